#ifndef CRANK_SUMMARY_EVENT_FILE_WRITER_H_
#define CRANK_SUMMARY_EVENT_FILE_WRITER_H_

// EventFileWriter: a TensorBoard event file of scalar summaries, as TensorFlow's
// EventsWriter / tf.summary write it, readable by TensorBoard without TensorFlow.
//
// The file is DIR/events.out.tfevents.<unix seconds, 10 digits>.<hostname> (TensorBoard reads
// every file whose name contains "tfevents"); when that name exists, ".2", ".3", ... is
// appended, so a run never overwrites another's file. It is a TFRecord file (tfrecord.h) of
// serialized Event messages (tfevents.proto, TensorFlow's field numbers): first an Event with
// wall_time and file_version "brain.Event:2", then one Event per AddScalars call, with the
// step and a Summary of simple_value scalars.
//
// Durability: records are queued in memory and written by Flush() (also when more than 64 KiB
// are queued, and by the destructor), each flush one write of whole records. If a write fails
// (disk full, I/O error), the file is cut back to its last whole record before Flush throws,
// so a reader always finds a sequence of complete records; a process that dies loses at most
// the records queued since the last flush.
//
// Errors: IoError naming the directory or the file and the cause. Not thread-safe.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace crank {

inline constexpr char kEventFileVersion[] = "brain.Event:2";

class EventFileWriter {
 public:
  // Creates `dir` (and its parents) when missing and a new event file in it, and writes the
  // file-version event. Throws IoError "tensorboard directory DIR: ..." when the directory
  // cannot be created or the file cannot be created or written.
  explicit EventFileWriter(const std::string& dir);
  // Flushes; an error is logged as a warning, never thrown.
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  // Queues one Event at `step` whose Summary holds `scalars` (tag, value) in order, stamped
  // with the current wall time (or `wall_time`, seconds since the epoch, when >= 0). Values are
  // stored as float, as simple_value is. May flush (see above): throws IoError.
  void AddScalars(int64_t step, const std::vector<std::pair<std::string, double>>& scalars,
                  double wall_time = -1);

  // Writes the queued records. Throws IoError naming the file; the file then ends with its
  // last whole record.
  void Flush();

  // The event file's path.
  const std::string& path() const { return path_; }

 private:
  void Queue(const std::string& event_bytes);

  std::string path_;
  int fd_ = -1;
  std::string pending_;  // whole records not yet written
  int64_t written_ = 0;  // bytes of whole records in the file
};

// Seconds since the Unix epoch, with sub-second precision (an Event's wall_time).
double WallTimeSeconds();

}  // namespace crank

#endif  // CRANK_SUMMARY_EVENT_FILE_WRITER_H_
