#include "crank/data/streaming_reader.h"

#include <utility>

#include "crank/base/error.h"
#include "crank/data/shuffle_buffer.h"

namespace crank {

StreamingReader::StreamingReader(std::shared_ptr<const DataMapping> mapping,
                                 std::vector<std::string> files, const ReaderOptions& options)
    : mapping_(std::move(mapping)),
      options_(options),
      source_(mapping_->config(), mapping_->schema(), std::move(files), options.split,
              options.chunk_bytes, options.slice()) {
  options_.Validate();
  CRANK_REQUIRE(!options_.batch_slices || options_.shuffle_buffer <= 1,
                "StreamingReader: batch slices cannot be combined with a shuffle buffer");
  start_ = position_ = source_.position();
}

StreamingReader::~StreamingReader() { Stop(); }

void StreamingReader::Start() {
  stop_ = false;
  done_ = false;
  error_ = nullptr;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void StreamingReader::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  while (!ready_.empty()) {
    free_.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  ready_positions_.clear();
  started_ = false;
}

void StreamingReader::Rewind() {
  Stop();
  source_.Rewind();
  source_stats_ = SourceStats{};
  ++epoch_;
  start_ = position_ = source_.position();
  rows_ = 0;
  batches_ = 0;
}

bool StreamingReader::Seek(const ReaderPosition& position) {
  if (!CanSeek() || !position.has_file_location()) return false;
  Stop();
  source_.Seek(position);
  source_stats_ = source_.stats();
  start_ = position_ = position;
  rows_ = 0;
  batches_ = 0;
  return true;
}

void StreamingReader::Run() {
  try {
    ShuffleBuffer<Example> shuffle(options_.shuffle_buffer,
                                   Rng(options_.seed).Fork(epoch_).NextU64());
    const auto read = [this](Example* e) {
      if (!source_.Next(&raw_)) return false;
      mapping_->Apply(raw_, e);
      return true;
    };
    for (;;) {
      Batch batch;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
        if (!free_.empty()) {
          batch = std::move(free_.back());
          free_.pop_back();
        }
      }
      builder_.Begin(mapping_->spec(), &batch);
      int64_t n = 0;
      bool last = false, deliver = false;
      if (options_.batch_slices) {
        // This rank's rows of the next global batch, possibly none.
        deliver = source_.NextBlock();
        last = !deliver;
        for (int64_t i = 0; deliver && i < source_.block_row_count(); ++i) {
          mapping_->Apply(source_.block_rows()[static_cast<size_t>(i)], &example_);
          builder_.Append(example_);
        }
      } else if (options_.shuffle_buffer <= 1) {
        // File order: each row is mapped straight into the batch, with no Example between.
        while (n < options_.batch_size && source_.Next(&raw_)) {
          mapping_->Apply(raw_, &builder_);
          ++n;
        }
        last = n < options_.batch_size;
        deliver = n > 0 && !(last && options_.drop_remainder);
      } else {
        while (n < options_.batch_size && shuffle.Next(&example_, read)) {
          builder_.Append(example_);
          ++n;
        }
        last = n < options_.batch_size;
        deliver = n > 0 && !(last && options_.drop_remainder);
      }
      builder_.Finish();
      std::unique_lock<std::mutex> lock(mu_);
      source_stats_ = source_.stats();
      if (deliver) {
        cv_.wait(lock, [this] {
          return stop_ || static_cast<int64_t>(ready_.size()) < options_.prefetch_batches;
        });
        if (stop_) return;
        ready_.push_back(std::move(batch));
        ReaderPosition p = source_.position();
        p.rows += start_.rows;
        ready_positions_.push_back(p);
      } else {
        free_.push_back(std::move(batch));
      }
      if (last) {
        done_ = true;
        cv_.notify_all();
        return;
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::current_exception();
    done_ = true;
    cv_.notify_all();
  }
}

bool StreamingReader::Next(Batch* batch) {
  if (!started_) Start();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !ready_.empty() || done_; });
  if (!ready_.empty()) {
    using std::swap;
    swap(*batch, ready_.front());
    free_.push_back(std::move(ready_.front()));  // the caller's previous buffers
    ready_.pop_front();
    position_ = ready_positions_.front();
    ready_positions_.pop_front();
    lock.unlock();
    cv_.notify_all();
    rows_ += batch->size();
    ++batches_;
    return true;
  }
  if (error_) std::rethrow_exception(error_);
  return false;
}

ReaderStats StreamingReader::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  ReaderStats s;
  s.rows = rows_;
  s.batches = batches_;
  s.rows_skipped = source_stats_.skipped;
  s.rows_filtered = source_stats_.filtered;
  s.bytes_read = source_stats_.bytes;
  return s;
}

}  // namespace crank
