#include "crank/data/synthetic_criteo.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string>

#include "crank/base/error.h"
#include "crank/base/rng.h"

namespace crank {
namespace {

constexpr int kDense = 13;
constexpr int kSparse = 26;
constexpr int kLatent = 4;

// Distinct tokens per field in the Criteo Kaggle training set.
constexpr std::array<int64_t, kSparse> kCardinality = {
    1460, 583,   10131227, 2202608, 305,  24,   12517, 633,     3,  93145, 5683,   8351593, 3194,
    27,   14992, 5461306,  10,      5652, 2173, 4,     7046547, 18, 15,    286181, 105,     142572};

// Field pairs (0-based C indices) whose tokens interact through latent dot products.
constexpr std::array<std::pair<int, int>, 8> kPairs = {
    {{0, 1}, {4, 5}, {7, 13}, {8, 16}, {19, 22}, {21, 24}, {1, 7}, {5, 13}}};

// I-field counts floor(exp(mu + sigma * z)); coef * z enters the logit.
struct DenseProfile {
  double mu, sigma, coef;
};
constexpr std::array<DenseProfile, kDense> kDenseProfile = {{{0.8, 1.0, 0.45},
                                                             {1.2, 1.3, 0.0},
                                                             {2.0, 1.2, -0.35},
                                                             {1.5, 0.9, 0.0},
                                                             {6.0, 1.8, 0.3},
                                                             {3.0, 1.4, 0.0},
                                                             {1.5, 1.2, 0.35},
                                                             {2.5, 0.8, 0.0},
                                                             {3.5, 1.3, 0.0},
                                                             {0.3, 0.6, 0.0},
                                                             {1.0, 1.0, -0.3},
                                                             {0.2, 0.8, 0.0},
                                                             {1.5, 1.0, 0.0}}};

// Scales of the logit's parts, tuned so that the teacher's AUC is about 0.8 and a logistic
// regression on one-hot features reaches about 0.72 after one epoch over 150k rows.
constexpr double kTokenScale = 0.6;         // token weights
constexpr double kInteractionScale = 0.12;  // latent dot products
constexpr double kDenseScale = 0.55;        // dense latent variables

// Uniform in [-sqrt(3), sqrt(3)) (unit variance) from a hash.
inline double HashSymmetric(uint64_t h) {
  return (static_cast<double>(h >> 11) * 0x1.0p-53 * 2.0 - 1.0) * 1.7320508075688772;
}

class Teacher {
 public:
  explicit Teacher(const SyntheticOptions& o)
      : seed_(Mix64(o.teacher_seed ^ 0x7eac4e5ULL)), dense_(o.dense) {
    for (int f = 0; f < kSparse; ++f) {
      const int64_t n =
          std::max<int64_t>(1, std::min(kCardinality[static_cast<size_t>(f)], o.max_cardinality));
      Field& fd = fields_[static_cast<size_t>(f)];
      fd.n = n;
      const double s = o.zipf_exponent;
      fd.one_minus_s = 1.0 - s;
      fd.log_n1 = std::log(static_cast<double>(n) + 1.0);
      fd.a = std::abs(fd.one_minus_s) < 1e-9
                 ? 0.0
                 : std::pow(static_cast<double>(n) + 1.0, fd.one_minus_s) - 1.0;
      fd.weight_scale = kTokenScale * (n <= 100 ? 0.6 : n <= 10000 ? 0.45 : 0.3);
      const double u =
          static_cast<double>(Mix64(seed_ + 101 + static_cast<uint64_t>(f)) >> 11) * 0x1.0p-53;
      fd.missing = std::min(0.95, o.missing_rate * (0.25 + 1.5 * u));
    }
    for (int j = 0; j < kDense; ++j) {
      const double u =
          static_cast<double>(Mix64(seed_ + 307 + static_cast<uint64_t>(j)) >> 11) * 0x1.0p-53;
      dense_missing_[static_cast<size_t>(j)] = std::min(0.95, o.missing_rate * (0.25 + 1.5 * u));
    }
  }

  struct Row {
    std::array<int64_t, kDense> dense{};
    std::array<bool, kDense> dense_present{};
    std::array<uint32_t, kSparse> token{};
    std::array<bool, kSparse> token_present{};
    double logit = 0.0;  // without the bias
  };

  void Draw(Rng& rng, Row* row) const {
    double logit = 0.0;
    std::array<uint64_t, kSparse> rank{};
    for (int f = 0; f < kSparse; ++f) {
      const Field& fd = fields_[static_cast<size_t>(f)];
      const size_t fi = static_cast<size_t>(f);
      const double u_missing = rng.UniformDouble();
      const double u = rng.UniformDouble();
      row->token_present[fi] = u_missing >= fd.missing;
      if (!row->token_present[fi]) continue;
      // Zipf-like rank in [0, n): inverse CDF of a bounded power law on [1, n + 1).
      const double x =
          fd.a == 0.0 ? std::exp(u * fd.log_n1) : std::pow(1.0 + u * fd.a, 1.0 / fd.one_minus_s);
      const uint64_t k = static_cast<uint64_t>(
          std::clamp<double>(std::floor(x) - 1.0, 0.0, static_cast<double>(fd.n - 1)));
      rank[fi] = k;
      const uint64_t key = TokenKey(f, k);
      row->token[fi] = static_cast<uint32_t>(key >> 32);
      logit += fd.weight_scale * HashSymmetric(Mix64(key ^ 0x5157ULL));
    }
    for (const auto& [a, b] : kPairs) {
      const size_t ai = static_cast<size_t>(a), bi = static_cast<size_t>(b);
      if (!row->token_present[ai] || !row->token_present[bi]) continue;
      const uint64_t ka = TokenKey(a, rank[ai]), kb = TokenKey(b, rank[bi]);
      double dot = 0.0;
      for (uint64_t i = 0; i < kLatent; ++i) {
        const uint64_t pair_salt = static_cast<uint64_t>(a * 31 + b) << 8;
        dot += HashSymmetric(Mix64(ka ^ (pair_salt + i))) *
               HashSymmetric(Mix64(kb ^ (pair_salt + 0x80 + i)));
      }
      logit += kInteractionScale * dot;
    }
    for (int j = 0; j < kDense; ++j) {
      const size_t ji = static_cast<size_t>(j);
      const DenseProfile& p = kDenseProfile[ji];
      const double u_missing = rng.UniformDouble();
      const double z = rng.Normal();
      // The same draws with or without dense features, so that the rows keep their tokens.
      row->dense_present[ji] = dense_ && u_missing >= dense_missing_[ji];
      if (!dense_) continue;
      logit +=
          kDenseScale * p.coef * z;  // the click model sees z even when the value is not recorded
      const double c = std::floor(std::exp(std::min(p.mu + p.sigma * z, 40.0)));
      row->dense[ji] = static_cast<int64_t>(c) - (j == 1 ? 1 : 0);
    }
    row->logit = logit;
  }

 private:
  struct Field {
    int64_t n = 1;
    double one_minus_s = 0.0, log_n1 = 0.0, a = 0.0;
    double weight_scale = 0.0;
    double missing = 0.0;
  };
  uint64_t TokenKey(int f, uint64_t rank) const {
    return Mix64(seed_ ^ (static_cast<uint64_t>(f + 1) * 0x9e3779b97f4a7c15ULL) ^ Mix64(rank));
  }

  uint64_t seed_;
  bool dense_;
  std::array<Field, kSparse> fields_{};
  std::array<double, kDense> dense_missing_{};
};

inline double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// The bias that makes the mean click probability equal `ctr` over a calibration sample.
double CalibrateBias(const Teacher& teacher, const SyntheticOptions& o) {
  Rng rng = Rng(o.teacher_seed).Fork(2);
  std::vector<double> logits(20000);
  Teacher::Row row;
  for (double& l : logits) {
    teacher.Draw(rng, &row);
    l = row.logit;
  }
  double lo = -30.0, hi = 30.0;
  for (int it = 0; it < 80; ++it) {
    const double mid = 0.5 * (lo + hi);
    double mean = 0.0;
    for (const double l : logits) mean += Sigmoid(l + mid);
    mean /= static_cast<double>(logits.size());
    (mean < o.base_ctr ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

void SyntheticOptions::Validate() const {
  CRANK_REQUIRE(rows >= 0, "synthetic data: rows must be >= 0, got {}", rows);
  CRANK_REQUIRE(missing_rate >= 0.0 && missing_rate <= 0.5,
                "synthetic data: missing_rate must be in [0, 0.5], got {}", missing_rate);
  CRANK_REQUIRE(base_ctr > 0.0 && base_ctr < 1.0,
                "synthetic data: base_ctr must be in (0, 1), got {}", base_ctr);
  CRANK_REQUIRE(max_cardinality >= 1, "synthetic data: max_cardinality must be >= 1, got {}",
                max_cardinality);
  CRANK_REQUIRE(zipf_exponent > 0.0 && zipf_exponent <= 5.0,
                "synthetic data: zipf_exponent must be in (0, 5], got {}", zipf_exponent);
}

SyntheticSummary GenerateSyntheticCriteo(const SyntheticOptions& options, std::ostream& out,
                                         std::vector<float>* teacher_probabilities) {
  options.Validate();
  const Teacher teacher(options);
  const double bias = CalibrateBias(teacher, options);
  Rng rng = Rng(options.seed).Fork(1);
  SyntheticSummary summary;
  if (teacher_probabilities) {
    teacher_probabilities->clear();
    teacher_probabilities->reserve(static_cast<size_t>(options.rows));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string buf;
  buf.reserve((size_t{1} << 20) + 1024);
  Teacher::Row row;
  double prob_sum = 0.0;
  for (int64_t r = 0; r < options.rows; ++r) {
    teacher.Draw(rng, &row);
    const double p = Sigmoid(row.logit + bias);
    const bool label = rng.UniformDouble() < p;
    prob_sum += p;
    summary.positives += label ? 1 : 0;
    if (teacher_probabilities) teacher_probabilities->push_back(static_cast<float>(p));
    if (options.labelled) {
      buf += label ? '1' : '0';
      buf += '\t';
    }
    for (int j = 0; j < kDense; ++j) {
      if (row.dense_present[static_cast<size_t>(j)]) {
        char tmp[24];
        const auto res = std::to_chars(tmp, tmp + sizeof(tmp), row.dense[static_cast<size_t>(j)]);
        buf.append(tmp, static_cast<size_t>(res.ptr - tmp));
      }
      buf += '\t';
    }
    for (int f = 0; f < kSparse; ++f) {
      if (row.token_present[static_cast<size_t>(f)]) {
        const uint32_t t = row.token[static_cast<size_t>(f)];
        char tmp[8];
        for (int i = 0; i < 8; ++i) tmp[i] = kHex[(t >> (28 - 4 * i)) & 0xf];
        buf.append(tmp, 8);
      }
      buf += f + 1 < kSparse ? '\t' : '\n';
    }
    if (buf.size() >= (size_t{1} << 20)) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  out.flush();
  if (!out) throw IoError("writing the synthetic data failed");
  summary.rows = options.rows;
  summary.mean_probability = options.rows > 0 ? prob_sum / static_cast<double>(options.rows) : 0.0;
  return summary;
}

}  // namespace crank
