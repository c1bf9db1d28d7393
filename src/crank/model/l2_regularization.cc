#include "crank/model/l2_regularization.h"

#include <algorithm>
#include <cstdint>

#include "crank/base/error.h"
#include "crank/kernels/parallel_for.h"

namespace crank {
namespace {

// How many gradient rows ahead the sparse pass asks for the stored row (the tables are far
// larger than the cache and the ids have gaps the hardware prefetcher does not follow).
constexpr int64_t kRowPrefetchDistance = 8;
// Fewer gradient elements than this in all run on the calling thread.
constexpr int64_t kMinParallelElements = int64_t{1} << 14;

// g[j] += two_l2 * w[j] for j < n; returns sum_j w_j^2 in double.
double AddL2Gradient(const float* w, float* g, int64_t n, float two_l2) {
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    s += double(w[j]) * w[j];
    g[j] += two_l2 * w[j];
  }
  return s;
}

// The catch-up state's two exact floats (hi, lo) of a step count p = hi * 2^24 + lo.
constexpr int64_t kStepsLow = int64_t{1} << 24;

int64_t ReadSteps(const float* hl) {
  return static_cast<int64_t>(hl[0]) * kStepsLow + static_cast<int64_t>(hl[1]);
}

void WriteSteps(int64_t p, float* hl) {
  hl[0] = static_cast<float>(p / kStepsLow);
  hl[1] = static_cast<float>(p % kStepsLow);
}

// Row i of v's sparse gradient (n, E) += 2 l2 f_i w_i, terms[i] = l2 * sum_j w_ij^2 (double).
// f_i = 1 without catch-up state; with it, the row's catch-up factor at step `step`, and the
// row's count of steps paid becomes step + 1.
void SparseL2(Variable& v, double* terms, Tensor* catch_up, int64_t step) {
  const int64_t e = v.shape()[1];
  const float two_l2 = 2.0f * v.l2;
  const int64_t now = step + 1;
  const std::vector<int64_t>& ids = v.sparse_grad.ids;
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t row_bytes = e * (v.is16() ? 2 : 4);
  Tensor& rows = v.sparse_grad.rows;
  std::vector<float> widened(v.is16() ? static_cast<size_t>(e) : 0);
  for (int64_t i = 0; i < n; ++i) {
    if (i + kRowPrefetchDistance < n) {
      const char* p =
          static_cast<const char*>(v.StoredRow(ids[static_cast<size_t>(i + kRowPrefetchDistance)]));
      __builtin_prefetch(p);
      __builtin_prefetch(p + row_bytes - 1);  // a row that crosses a line
    }
    const int64_t id = ids[static_cast<size_t>(i)];
    const float* w = widened.data();  // a 16-bit row widened; an fp32 row read in place
    if (v.is16()) {
      v.ReadRow(id, widened.data());
    } else {
      w = v.value.row(id);
    }
    float f = 1.0f;
    if (catch_up != nullptr) {
      float* paid = catch_up->row(id);
      f = static_cast<float>(std::clamp<int64_t>(now - ReadSteps(paid), 1, v.l2_catch_up));
      WriteSteps(now, paid);
    }
    terms[i] = v.l2 * AddL2Gradient(w, rows.row(i), e, two_l2 * f);
  }
}

// v.grad += 2 l2 w; *term = l2 * sum w^2 (double).
void DenseL2(Variable& v, double* term) {
  *term = v.l2 * AddL2Gradient(v.value.data(), v.grad.data(), v.value.size(), 2.0f * v.l2);
}

}  // namespace

double ApplyL2Regularization(const std::vector<Variable*>& vars, L2Scratch* scratch,
                             Optimizer* optimizer) {
  CRANK_CHECK(scratch != nullptr);
  // Task k is variable regularized[k]; its terms start at first_term[k].
  std::vector<Variable*>& regularized = scratch->regularized;
  std::vector<int64_t>& first_term = scratch->first_term;
  std::vector<Tensor*>& catch_up = scratch->catch_up;
  std::vector<double>* terms = &scratch->terms;
  regularized.clear();
  first_term.clear();
  catch_up.clear();
  int64_t num_terms = 0, elements = 0;
  for (Variable* v : vars) {
    CRANK_CHECK(v != nullptr);
    if (v->l2 == 0.0f) continue;
    const int64_t n = v->sparse ? static_cast<int64_t>(v->sparse_grad.ids.size()) : 1;
    if (n == 0) continue;
    regularized.push_back(v);
    first_term.push_back(num_terms);
    Tensor* state =
        optimizer != nullptr && v->L2CatchUpActive() ? optimizer->L2CatchUpState(*v) : nullptr;
    CRANK_CHECK(state == nullptr ||
                    (state->rank() == 2 && state->dim(0) == v->shape()[0] && state->dim(1) == 2),
                "L2 catch-up state of {} is {}", v->name, state->ShapeString());
    catch_up.push_back(state);
    num_terms += n;
    elements += v->sparse ? v->sparse_grad.rows.size() : v->value.size();
  }
  if (terms->size() < static_cast<size_t>(num_terms)) terms->resize(static_cast<size_t>(num_terms));
  double* t = terms->data();
  const int64_t step = optimizer != nullptr ? optimizer->iterations() : 0;
  ParallelForDynamic(static_cast<int64_t>(regularized.size()), elements >= kMinParallelElements,
                     [&](int64_t k) {
                       Variable& v = *regularized[static_cast<size_t>(k)];
                       double* out = t + first_term[static_cast<size_t>(k)];
                       if (v.sparse) {
                         SparseL2(v, out, catch_up[static_cast<size_t>(k)], step);
                       } else {
                         DenseL2(v, out);
                       }
                     });
  double penalty = 0.0;
  for (int64_t i = 0; i < num_terms; ++i) penalty += t[i];
  return penalty;
}

}  // namespace crank
