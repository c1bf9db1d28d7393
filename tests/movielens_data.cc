#include "movielens_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "crank/base/rng.h"

namespace crank::testing {
namespace fs = std::filesystem;

namespace {

// The genre tokens of ml-latest-small; the last one marks a movie without genres.
constexpr std::string_view kGenres[] = {
    "Action", "Adventure",   "Animation", "Children", "Comedy",
    "Crime",  "Documentary", "Drama",     "Fantasy",  "Film-Noir",
    "Horror", "IMAX",        "Musical",   "Mystery",  "Romance",
    "Sci-Fi", "Thriller",    "War",       "Western",  "(no genres listed)"};
constexpr int kNoGenres = 19;

constexpr int kUsers = 300;
constexpr int kMovies = 600;
constexpr uint64_t kSeed = 20180926;
// Timestamps between 1996-01-01 and 2018-09-01 UTC, as in ml-latest-small.
constexpr int64_t kFirstTimestamp = 820454400;
constexpr int64_t kLastTimestamp = 1535760000;
constexpr std::string_view kExampleDataDir = "../../shared/data/movielens-latest-small/";

struct Movie {
  int64_t id = 0;
  std::string title;  // as written in the CSV (quoted where it holds a comma)
  int year = 0;       // 0: the title has none
  std::vector<int> genres;
  double bias = 0.0;
};

struct Rating {
  int64_t user = 0;
  int movie = 0;  // index into the movie list
  double stars = 0.0;
  int64_t timestamp = 0;
};

int Hour(int64_t ts) { return static_cast<int>(ts % 86400 / 3600); }
int DayOfWeek(int64_t ts) { return static_cast<int>((ts / 86400 + 3) % 7); }  // 0 = Monday

std::vector<Movie> MakeMovies(Rng& rng) {
  std::vector<Movie> movies(kMovies);
  for (int i = 0; i < kMovies; ++i) {
    Movie& m = movies[i];
    m.id = 1 + 3 * static_cast<int64_t>(i);
    m.bias = 0.3 * rng.Normal();
    if (i == 0) {
      m.title = "Toy Story (1995)";
      m.year = 1995;
      m.genres = {1, 2, 3, 4, 8};  // Adventure|Animation|Children|Comedy|Fantasy
      continue;
    }
    m.year = std::clamp(static_cast<int>(std::lround(1995 + 12 * rng.Normal())), 1902, 2018);
    const std::string name = "Movie " + std::to_string(i);
    if (i % 41 == 40) {
      m.year = 0;
      m.title = name;
    } else if (i % 7 == 3) {
      m.title = "\"" + name + ", The (" + std::to_string(m.year) + ")\"";
    } else {
      m.title = name + " (" + std::to_string(m.year) + ")";
    }
    if (i % 53 == 52) {
      m.genres = {kNoGenres};
      continue;
    }
    std::set<int> g;
    if (i <= kNoGenres) g.insert(i - 1);  // movies 1-19 give every genre at least one movie
    const int extra = 1 + static_cast<int>(rng.UniformInt(3));
    while (static_cast<int>(g.size()) < extra + (i <= kNoGenres ? 1 : 0)) {
      g.insert(static_cast<int>(rng.UniformInt(kNoGenres)));
    }
    m.genres.assign(g.begin(), g.end());
  }
  return movies;
}

// Ratings sorted by user, then by movie id; the signal is described in the header.
std::vector<Rating> MakeRatings(const std::vector<Movie>& movies, Rng& rng) {
  std::vector<Rating> out;
  std::vector<int> order(kMovies);
  for (int64_t user = 1; user <= kUsers; ++user) {
    const double user_bias = 0.3 * rng.Normal();
    std::vector<double> affinity(kNoGenres);
    for (double& a : affinity) a = 0.6 * rng.Normal();
    const int count = user == 1 ? 60 : 40 + static_cast<int>(rng.UniformInt(120));
    std::iota(order.begin(), order.end(), 0);
    for (int i = 0; i < count; ++i) {
      std::swap(order[i], order[i + rng.UniformInt(kMovies - i)]);
    }
    std::vector<int> picked(order.begin(), order.begin() + count);
    if (user == 1 && std::find(picked.begin(), picked.end(), 0) == picked.end()) picked[0] = 0;
    std::sort(picked.begin(), picked.end());
    for (size_t k = 0; k < picked.size(); ++k) {
      const Movie& m = movies[picked[k]];
      Rating r;
      r.user = user;
      r.movie = picked[k];
      r.timestamp =
          kFirstTimestamp + static_cast<int64_t>(rng.UniformInt(kLastTimestamp - kFirstTimestamp));
      if (user == 1 && k == 10) r.timestamp = kFirstHeldOutTimestamp + 7 * 86400 + 3600;
      if (user == 1 && k == 20) r.timestamp = kFirstHeldOutTimestamp + 86400;
      double taste = 0.0;
      int rated_genres = 0;
      for (int g : m.genres) {
        if (g == kNoGenres) continue;
        taste += affinity[g];
        ++rated_genres;
      }
      if (rated_genres > 0) taste /= rated_genres;
      const double when = 0.35 * std::cos(2.0 * M_PI * (Hour(r.timestamp) - 21) / 24.0) +
                          (DayOfWeek(r.timestamp) >= 5 ? 0.2 : -0.08);
      const double value = 3.4 + user_bias + m.bias + taste + when + 0.35 * rng.Normal();
      r.stars = std::clamp(std::round(2.0 * value) / 2.0, 0.5, 5.0);
      if (user == 1 && k == 0) {
        r.timestamp = kFirstHeldOutTimestamp;
        r.stars = 4.0;
      }
      out.push_back(r);
    }
  }
  return out;
}

bool IsEval(size_t row) { return row % 10 == 0; }

// RMSE on the evaluation rows of mu + b_user + b_movie fitted on the training rows by
// alternating ridge regression, for the best of a few regularisation strengths.
double BiasBaselineRmse(const std::vector<Rating>& ratings, double mu) {
  double best = INFINITY;
  for (const double lambda : {0.5, 2.0, 5.0, 10.0, 25.0, 50.0}) {
    std::vector<double> bu(kUsers + 1, 0.0), bi(kMovies, 0.0);
    for (int iter = 0; iter < 20; ++iter) {
      std::vector<double> sum(kMovies, 0.0), n(kMovies, 0.0);
      for (size_t i = 0; i < ratings.size(); ++i) {
        if (IsEval(i)) continue;
        sum[ratings[i].movie] += ratings[i].stars - mu - bu[ratings[i].user];
        n[ratings[i].movie] += 1.0;
      }
      for (int m = 0; m < kMovies; ++m) bi[m] = sum[m] / (lambda + n[m]);
      std::vector<double> usum(kUsers + 1, 0.0), un(kUsers + 1, 0.0);
      for (size_t i = 0; i < ratings.size(); ++i) {
        if (IsEval(i)) continue;
        usum[ratings[i].user] += ratings[i].stars - mu - bi[ratings[i].movie];
        un[ratings[i].user] += 1.0;
      }
      for (int u = 1; u <= kUsers; ++u) bu[u] = usum[u] / (lambda + un[u]);
    }
    double se = 0.0, n = 0.0;
    for (size_t i = 0; i < ratings.size(); i += 10) {
      const double e = ratings[i].stars - (mu + bu[ratings[i].user] + bi[ratings[i].movie]);
      se += e * e;
      n += 1.0;
    }
    best = std::min(best, std::sqrt(se / n));
  }
  return best;
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

fs::path MovieLensDir() {
  return (fs::path(CRANK_SOURCE_DIR) / ".." / "shared" / "data" / "movielens-latest-small")
      .lexically_normal();
}

std::string MovieLensMissing() {
  for (const char* file : {"ratings.csv", "movies.csv"}) {
    const fs::path path = MovieLensDir() / file;
    if (!fs::is_regular_file(path)) {
      return "MovieLens ml-latest-small is not available: " + path.string() +
             " not found. Download it with scripts/get_movielens.sh (needs the internet; "
             "default target ../shared/data/movielens-latest-small beside the repository). "
             "The same code paths are also tested on generated rows (SyntheticMovieLens tests).";
    }
  }
  return "";
}

SyntheticMovieLens WriteSyntheticMovieLens(const fs::path& dir, const fs::path& example_config) {
  fs::create_directories(dir);
  Rng rng(kSeed);
  const std::vector<Movie> movies = MakeMovies(rng);
  const std::vector<Rating> ratings = MakeRatings(movies, rng);

  SyntheticMovieLens out;
  out.ratings = dir / "ratings.csv";
  out.movies = dir / "movies.csv";
  out.config = dir / "movielens.yaml";

  std::string text = "movieId,title,genres\n";
  for (const Movie& m : movies) {
    text += std::to_string(m.id) + "," + m.title + ",";
    for (size_t g = 0; g < m.genres.size(); ++g) {
      text += (g ? "|" : "") + std::string(kGenres[m.genres[g]]);
    }
    text += "\n";
  }
  WriteText(out.movies, text);

  text = "userId,movieId,rating,timestamp\n";
  char stars[16];
  double sum = 0.0, year_sum = 0.0;
  std::set<int64_t> users, rated;
  std::set<int> genres;
  for (size_t i = 0; i < ratings.size(); ++i) {
    const Rating& r = ratings[i];
    std::snprintf(stars, sizeof(stars), "%.1f", r.stars);
    text += std::to_string(r.user) + "," + std::to_string(movies[r.movie].id) + "," + stars + "," +
            std::to_string(r.timestamp) + "\n";
    if (IsEval(i)) continue;
    ++out.train_rows;
    sum += r.stars;
    users.insert(r.user);
    rated.insert(r.movie);
    for (int g : movies[r.movie].genres) genres.insert(g);
    if (movies[r.movie].year > 0) {
      year_sum += movies[r.movie].year;
      ++out.train_movie_year_count;
    }
  }
  WriteText(out.ratings, text);

  out.rows = static_cast<int64_t>(ratings.size());
  out.eval_rows = out.rows - out.train_rows;
  out.users = static_cast<int64_t>(users.size());
  out.movies_rated = static_cast<int64_t>(rated.size());
  out.genres = static_cast<int64_t>(genres.size());
  out.train_mean_rating = sum / static_cast<double>(out.train_rows);
  out.train_movie_year_mean = year_sum / static_cast<double>(out.train_movie_year_count);
  double se = 0.0;
  for (size_t i = 0; i < ratings.size(); i += 10) {
    se += (ratings[i].stars - out.train_mean_rating) * (ratings[i].stars - out.train_mean_rating);
  }
  out.global_mean_rmse = std::sqrt(se / static_cast<double>(out.eval_rows));
  out.bias_baseline_rmse = BiasBaselineRmse(ratings, out.train_mean_rating);

  // The example configuration, its data paths pointing at the files beside it.
  std::ifstream in(example_config, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + example_config.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string yaml = buffer.str();
  int replaced = 0;
  for (size_t at = yaml.find(kExampleDataDir); at != std::string::npos;
       at = yaml.find(kExampleDataDir, at)) {
    yaml.erase(at, kExampleDataDir.size());
    ++replaced;
  }
  if (replaced != 3) {
    throw std::runtime_error(example_config.string() +
                             ": expected the train, eval and join paths " + "to start with " +
                             std::string(kExampleDataDir) + ", found " + std::to_string(replaced));
  }
  WriteText(out.config, yaml);
  return out;
}

}  // namespace crank::testing
