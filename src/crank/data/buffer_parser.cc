#include "crank/data/buffer_parser.h"

#include <utility>

namespace crank {

BufferParser::BufferParser(std::shared_ptr<const DataMapping> mapping)
    : mapping_(std::move(mapping)),
      source_(mapping_->config(), mapping_->schema(), {}, RowSplit::kAll) {}

int64_t BufferParser::Parse(std::string_view text, Batch* batch, const std::string& name,
                            RowSplit split) {
  source_.SetText(text, name, split);
  builder_.Begin(mapping_->spec(), batch);
  while (source_.Next(&raw_)) {
    mapping_->Apply(raw_, &example_);
    builder_.Append(example_);
  }
  return builder_.Finish();
}

}  // namespace crank
