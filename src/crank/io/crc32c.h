#ifndef CRANK_IO_CRC32C_H_
#define CRANK_IO_CRC32C_H_

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF): the
// checksum of the checkpoint format. Crc32c("123456789") == 0xE3069283.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it and a portable slice-by-8 table
// otherwise; both give identical results. Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>

namespace crank {

// Returns the CRC-32C of data[0, n) appended to a message whose CRC-32C is `crc`:
// Crc32cExtend(Crc32c(a), b) == Crc32c(a + b). Start with crc = 0.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

// The portable slice-by-8 implementation, exposed so tests can compare it with the dispatched one.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace crank

#endif  // CRANK_IO_CRC32C_H_
