#ifndef CRANK_TRAIN_CONFIG_OVERRIDES_H_
#define CRANK_TRAIN_CONFIG_OVERRIDES_H_

// Values given on the command line (or by any other caller) that replace those of a JobConfig.
// Each field left empty keeps the configuration's value; JobConfig::ApplyOverrides holds the
// policy of how one value changes the others (docs/config.md, "Flags"):
//  - embedding_dim also sets the bottom stack's last width (the DLRM shape) unless bottom is
//    given too;
//  - format criteo replaces a delimited data section by the Criteo defaults; format delimited
//    needs the schema of a delimited data section already in the configuration;
//  - hash_buckets sets the Criteo encoding of every categorical field (Criteo only);
//  - min_count makes every Criteo categorical field a vocabulary of the tokens seen at least
//    min_count times in the training rows (the others map to the OOV id); it excludes
//    hash_buckets (Criteo only);
//  - either one marks the encoding as given (criteo.encoding_given), so ResolveDefaultEncoding
//    keeps it;
//  - learning_rate sets both optimizers' rates; the per-optimizer rates win over it.
// Names (format, interaction, pooling, precision, embedding_precision, bad_rows) are checked
// against their name tables; an invalid one throws ConfigError naming the flag ("--interaction:
// ..."). The result is not validated: call JobConfig::Validate() after. Plain struct.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crank {

struct ConfigOverrides {
  std::optional<std::vector<std::string>> train_files, eval_files;
  std::optional<std::string> format;               // --format: criteo | delimited
  std::optional<std::string> interaction;          // --interaction: dot | cross | concat
  std::optional<std::string> pooling;              // --pooling: sum | mean | sqrtn
  std::optional<std::string> precision;            // --precision: auto | fp32 | bf16
  std::optional<std::string> embedding_precision;  // --embedding-precision: fp32 | bf16 | fp16
  std::optional<std::string> bad_rows;             // --bad-rows: skip | fail
  std::optional<std::string> tensorboard;          // --tensorboard DIR
  std::optional<std::string> input_sharding;       // --input-sharding rows | bytes
  std::optional<int64_t> embedding_dim, hash_buckets, min_count;
  std::optional<std::vector<int64_t>> bottom, top;
  std::optional<int64_t> epochs, batch_size, checkpoint_every, shuffle_buffer, eval_every,
      early_stopping_patience, max_steps, tensorboard_every;
  std::optional<double> collective_timeout;  // --collective-timeout SECONDS
  std::optional<double> max_bad_rows;        // --max-bad-rows: a fraction in [0, 1) or a count
  std::optional<double> learning_rate, embedding_learning_rate, dense_learning_rate;
  std::optional<int> threads;
  std::optional<uint64_t> seed;
  std::optional<bool> in_memory, keep_best;
};

}  // namespace crank

#endif  // CRANK_TRAIN_CONFIG_OVERRIDES_H_
