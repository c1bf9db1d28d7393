#ifndef CRANK_TESTS_MOVIELENS_DATA_H_
#define CRANK_TESTS_MOVIELENS_DATA_H_

// The MovieLens data for tests: where the real "ml-latest-small" set is expected (it lives
// outside the repository; scripts/get_movielens.sh downloads it) and a generator of synthetic
// rows of the same shape, so the code paths the real data exercises are tested without it.
//
// The synthetic set mirrors the real files: ratings.csv (userId,movieId,rating,timestamp, sorted
// by user then movie, ratings in half stars 0.5-5) joined on movieId with movies.csv
// (movieId,title,genres: "Title (1995)", some titles quoted with a comma, a few without a year,
// genres separated by '|', the 19 genres plus "(no genres listed)"). Ratings carry a learnable
// signal that a user + item bias model cannot capture: a per-user affinity for each genre and
// an effect of the hour and the day of the week the rating was given. Rows are generated from a
// fixed seed, so the files are the same on every platform.
//
// Not thread-safe only in the sense that two calls must not write the same folder.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace crank::testing {

// <source>/../shared/data/movielens-latest-small: where tests look for the real data.
std::filesystem::path MovieLensDir();

// Empty when the real ratings.csv and movies.csv are present; otherwise a message for
// GTEST_SKIP() saying which file is missing and how to get it (scripts/get_movielens.sh).
std::string MovieLensMissing();

// What the generator wrote, and numbers computed directly from the generated rows (not through
// crank) that tests compare crank's results with. The hold-out is the one in
// examples/movielens.yaml: data rows 1, 11, 21, ... (1-based) are evaluation rows.
struct SyntheticMovieLens {
  std::filesystem::path ratings;  // <dir>/ratings.csv
  std::filesystem::path movies;   // <dir>/movies.csv
  // <dir>/movielens.yaml: examples/movielens.yaml with its three data paths pointing at the
  // generated files (relative paths, as in the example); everything else unchanged.
  std::filesystem::path config;

  int64_t rows = 0;          // data rows of ratings.csv
  int64_t train_rows = 0;    // rows - eval_rows
  int64_t eval_rows = 0;     // ceil(rows / 10)
  int64_t users = 0;         // distinct userId values (all of them rate at least one train row)
  int64_t movies_rated = 0;  // distinct movieId values in training rows
  int64_t genres = 20;       // distinct genre tokens in training rows

  // Over training rows: the mean rating; the mean and count of the title year among rows whose
  // title has one; the mean year of the rating timestamp.
  double train_mean_rating = 0.0;
  double train_movie_year_mean = 0.0;
  int64_t train_movie_year_count = 0;
  // RMSE on the evaluation rows of predicting train_mean_rating (the global-mean baseline).
  double global_mean_rmse = 0.0;
  // RMSE on the evaluation rows of the best regularised user + item bias model fitted on the
  // training rows (the bias baseline; the regularisation is chosen on the evaluation rows, which
  // favours the baseline).
  double bias_baseline_rmse = 0.0;
};

// The first data row (held out) is user 1 rating movie 1, "Toy Story (1995)" with five genres
// (Adventure|Animation|Children|Comedy|Fantasy), 4.0 stars at 964982703 (2000-07-30 18:45:03
// UTC, a Sunday). Data row 11 (held out) is user 1 one week and one hour later (a Sunday, hour
// 19); data row 21 (held out) one day later (a Monday, hour 18).
inline constexpr int64_t kFirstHeldOutTimestamp = 964982703;

// Writes ratings.csv, movies.csv and movielens.yaml into `dir` (created if needed; files
// there are overwritten). `example_config` is the path of examples/movielens.yaml. Throws
// std::runtime_error when a file cannot be written or the example no longer names the data
// paths this function rewrites.
SyntheticMovieLens WriteSyntheticMovieLens(const std::filesystem::path& dir,
                                           const std::filesystem::path& example_config);

}  // namespace crank::testing

#endif  // CRANK_TESTS_MOVIELENS_DATA_H_
