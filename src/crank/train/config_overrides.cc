#include "crank/train/config_overrides.h"

#include "crank/base/enum_names.h"
#include "crank/base/error.h"
#include "crank/train/job_config.h"

namespace crank {
namespace {

constexpr EnumName<ErrorPolicy> kBadRowsNames[] = {{"skip", ErrorPolicy::kSkip},
                                                   {"fail", ErrorPolicy::kFail}};

// The value of `table` named `text`; ConfigError "<flag>: expected a or b, got 'text'".
template <typename E, size_t N>
E ParseFlag(const EnumName<E> (&table)[N], const std::string& text, const char* flag) {
  if (const auto v = ParseName(table, text)) return *v;
  throw ConfigError(flag,
                    fmt::format("expected {}, got '{}'", ListNames(table, ", ", " or "), text));
}

template <typename T>
void Set(const std::optional<T>& v, T* out) {
  if (v) *out = *v;
}

}  // namespace

ErrorPolicy ParseBadRows(const std::string& text) {
  return ParseFlag(kBadRowsNames, text, "--bad-rows");
}

void JobConfig::ApplyOverrides(const ConfigOverrides& o) {
  if (o.format) {
    if (*o.format == "criteo") {
      if (data.format != DataFormat::kCriteo) data = DataConfig();
    } else if (*o.format == "delimited") {
      if (data.format != DataFormat::kDelimited) {
        throw ConfigError(
            "--format delimited needs a data section with the schema in --config (see "
            "docs/data_format.md)");
      }
    } else {
      throw ConfigError(fmt::format("--format: expected criteo or delimited, got '{}'", *o.format));
    }
  }
  if (o.interaction)
    model.interaction = ParseFlag(kInteractionNames, *o.interaction, "--interaction");
  if (o.embedding_precision) {
    model.embedding_precision =
        ParseFlag(kEmbeddingPrecisionNames, *o.embedding_precision, "--embedding-precision");
  }
  if (o.embedding_dim) {
    model.embedding_dim = *o.embedding_dim;
    // Keep the DLRM shape: the bottom stack ends at the embedding dimension unless given.
    if (!o.bottom && !model.bottom.empty()) model.bottom.back() = *o.embedding_dim;
  }
  Set(o.bottom, &model.bottom);
  Set(o.top, &model.top);
  if (o.pooling) {
    try {
      model.pooling = ParsePooling(*o.pooling);
    } catch (const InvalidArgument&) {
      throw ConfigError("--pooling",
                        fmt::format("expected sum, mean or sqrtn, got '{}'", *o.pooling));
    }
  }
  if (o.hash_buckets) {
    if (data.format != DataFormat::kCriteo)
      throw ConfigError("--hash-buckets applies to --format criteo");
    data.criteo.encoding.kind = Encoding::Kind::kHash;
    data.criteo.encoding.hash_buckets = *o.hash_buckets;
    data.criteo.encoding_given = true;
    data.criteo.fields.clear();
  }
  if (o.min_count) {
    if (o.hash_buckets)
      throw ConfigError(
          "--min-count and --hash-buckets exclude each other: a categorical field is either a "
          "vocabulary of frequent tokens or hashed");
    if (data.format != DataFormat::kCriteo)
      throw ConfigError("--min-count applies to --format criteo");
    if (*o.min_count < 1)
      throw ConfigError("--min-count", fmt::format("expected >= 1, got {}", *o.min_count));
    data.criteo.encoding.kind = Encoding::Kind::kVocabulary;
    data.criteo.encoding.vocabulary.min_count = *o.min_count;
    data.criteo.encoding_given = true;
    data.criteo.fields.clear();
  }
  Set(o.epochs, &train.epochs);
  Set(o.batch_size, &train.batch_size);
  if (o.batch_size) train.batch_size_given = true;
  if (o.learning_rate) {
    embedding_optimizer.learning_rate = static_cast<float>(*o.learning_rate);
    dense_optimizer.learning_rate = static_cast<float>(*o.learning_rate);
  }
  if (o.embedding_learning_rate)
    embedding_optimizer.learning_rate = static_cast<float>(*o.embedding_learning_rate);
  if (o.dense_learning_rate)
    dense_optimizer.learning_rate = static_cast<float>(*o.dense_learning_rate);
  Set(o.threads, &train.threads);
  Set(o.seed, &train.seed);
  Set(o.checkpoint_every, &train.checkpoint_every);
  Set(o.shuffle_buffer, &train.shuffle_buffer);
  Set(o.eval_every, &train.eval_every);
  Set(o.early_stopping_patience, &train.early_stopping_patience);
  Set(o.max_steps, &train.max_steps);
  if (o.bad_rows) data.on_error = ParseBadRows(*o.bad_rows);
  if (o.max_bad_rows) data.max_bad_rows = *o.max_bad_rows;
  Set(o.in_memory, &train.in_memory);
  Set(o.keep_best, &train.keep_best);
  Set(o.tensorboard, &train.tensorboard);
  Set(o.tensorboard_every, &train.tensorboard_every);
  Set(o.collective_timeout, &train.collective_timeout);
  Set(o.input_sharding, &train.input_sharding);
  if (o.precision) {
    try {
      train.precision = ParsePrecisionSetting(*o.precision);
    } catch (const InvalidArgument&) {
      throw ConfigError("--precision",
                        fmt::format("expected auto, fp32 or bf16, got '{}'", *o.precision));
    }
  }
  Set(o.train_files, &data.train_files);
  Set(o.eval_files, &data.eval_files);
}

}  // namespace crank
