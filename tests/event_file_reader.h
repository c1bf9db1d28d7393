#ifndef CRANK_TESTS_EVENT_FILE_READER_H_
#define CRANK_TESTS_EVENT_FILE_READER_H_

// Test helper: reads a TensorBoard event file back, checking its TFRecord framing and both
// masked CRC-32Cs of every record with gtest expectations (the mask written out here, apart
// from the writer's summary/tfrecord.cc), and decodes the Events with the generated classes
// (tfevents.pb.h, from the crank_summary target).

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crank/io/crc32c.h"
#include "tfevents.pb.h"

namespace crank::testing {

inline uint64_t LittleEndianAt(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(s[at + i])} << (8 * i);
  return v;
}

// TensorFlow's crc32c::Mask: rotate right by 15 bits and add a constant.
inline uint32_t TfMask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// The records of a TFRecord file; a failed expectation for a bad CRC or a partial record.
inline std::vector<std::string> ParseTfRecords(const std::string& file) {
  std::vector<std::string> records;
  size_t at = 0;
  while (at < file.size()) {
    EXPECT_GE(file.size() - at, 12u) << "a partial header at byte " << at;
    if (file.size() - at < 12) break;
    const uint64_t length = LittleEndianAt(file, at, 8);
    EXPECT_EQ(LittleEndianAt(file, at + 8, 4), TfMask(Crc32c(file.data() + at, 8)))
        << "length CRC of the record at byte " << at;
    EXPECT_LE(at + 12 + length + 4, file.size()) << "a partial record at byte " << at;
    if (at + 12 + length + 4 > file.size()) break;
    const std::string data = file.substr(at + 12, length);
    EXPECT_EQ(LittleEndianAt(file, at + 12 + length, 4), TfMask(Crc32c(data.data(), data.size())))
        << "data CRC of the record at byte " << at;
    records.push_back(data);
    at += 12 + length + 4;
  }
  return records;
}

inline std::vector<crank::tfevents::Event> ReadEventFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<crank::tfevents::Event> events;
  for (const std::string& r : ParseTfRecords(ss.str())) {
    crank::tfevents::Event e;
    EXPECT_TRUE(e.ParseFromString(r)) << "a record of " << path << " is not an Event";
    events.push_back(e);
  }
  return events;
}

// Sets *value to the value of `tag` in `event`'s summary; false when the tag is absent.
inline bool FindScalar(const crank::tfevents::Event& event, const std::string& tag, float* value) {
  for (const auto& v : event.summary().value()) {
    if (v.tag() == tag) {
      *value = v.simple_value();
      return true;
    }
  }
  return false;
}

}  // namespace crank::testing

#endif  // CRANK_TESTS_EVENT_FILE_READER_H_
