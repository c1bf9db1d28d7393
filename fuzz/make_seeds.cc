// Writes the seed corpus of fuzz_checkpoint into a directory (usually
// fuzz/corpus/fuzz_checkpoint): a valid model checkpoint of the tiny model (tiny_model.h),
// generic containers, and refused variants (truncated, a flipped bit, a newer version, not a
// checkpoint). Run it again when the checkpoint format or the tiny model changes:
//
//   build/bin/crank_fuzz_make_seeds fuzz/corpus/fuzz_checkpoint

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "crank/io/checkpoint.h"
#include "crank/io/checkpoint_format.h"
#include "crank/io/crc32c.h"
#include "tiny_model.h"

namespace {

std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
    return 1;
  }
  const std::string dir = argv[1];
  namespace cf = crank::checkpoint_format;

  const std::string model_path = dir + "/valid_model.ckpt";
  crank::fuzz::WriteTinyModelCheckpoint(model_path);
  const std::string model = Read(model_path);
  std::printf("%s (%zu bytes)\n", model_path.c_str(), model.size());

  crank::CheckpointWriter empty;
  empty.Save(dir + "/empty_container.ckpt");

  crank::CheckpointWriter generic;
  generic.AddTensor("scalar", crank::Tensor({}, {-0.0f}));
  generic.AddTensor("matrix", crank::Tensor({2, 3}, {1, 2, 3, 4, 5, 6}));
  generic.AddTensor("empty", crank::Tensor({0, 4}));
  generic.AddInt64s("step", {7, -1});
  generic.AddString("bytes", std::string("a\0b\xff", 4));
  generic.Save(dir + "/generic_records.ckpt");

  Write(dir + "/truncated_model.ckpt", model.substr(0, model.size() / 2));
  std::string flipped = model;
  flipped[flipped.size() / 2] ^= 0x10;
  Write(dir + "/bitflip_model.ckpt", flipped);

  // The version after the newest with a valid header CRC: refused as newer, not as damaged.
  std::string newer = model;
  newer[cf::kVersionOffset] = static_cast<char>(cf::kFormatVersion + 1);
  const uint32_t crc = crank::Crc32c(newer.data(), cf::kHeaderCrcOffset);
  for (int i = 0; i < 4; ++i) newer[cf::kHeaderCrcOffset + i] = static_cast<char>(crc >> (8 * i));
  Write(dir + "/newer_version.ckpt", newer);

  Write(dir + "/not_a_checkpoint.ckpt", "model: {bottom: [8, 4]}\n");
  return 0;
}
