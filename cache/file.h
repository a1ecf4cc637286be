// SPDX-License-Identifier: MIT
//
// A data file of the cache with positional reads and writes, shareable by every process
// (Windows: FILE_SHARE_READ | WRITE | DELETE, so another process may delete it while it is open).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>

namespace pd::cache {

class File {
public:
    // Opens `path` for reading and writing; creates it (and its directory) when `create`.
    // nullptr when it does not exist (or cannot be opened).
    static std::shared_ptr<File> open(const std::filesystem::path& path, bool create);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    // Exactly out.size() bytes at `offset`; false on error or end of file. Thread-safe.
    // Reads are copies out of a read-only mapping of the whole file, made on the first read (no
    // system call per read: under Wine a positional ReadFile costs about as much as copying
    // 1 MiB); ranges beyond the mapping fall back to a positional read.
    bool read_at(std::uint64_t offset, std::span<std::uint8_t> out);
    bool write_at(std::uint64_t offset, std::span<const std::uint8_t> data);
    // Grows the file to `size` bytes (sparse where the platform allows) if it is smaller.
    bool reserve(std::uint64_t size);

private:
    File() = default;
    const std::uint8_t* map();
    std::once_flag mapped_;
    const std::uint8_t* view_ = nullptr;
    std::uint64_t view_size_ = 0;
#ifdef _WIN32
    void* handle_ = nullptr;
#else
    int fd_ = -1;
#endif
};

// Deletes a file; true if it is gone.
bool remove_file(const std::filesystem::path& path);

} // namespace pd::cache

namespace pd::cache {

// A 64-bit counter in a small file mapped into every process that opens it: a change of the
// cache made by any process is seen by the others with one memory load, no system call.
class SharedCounter {
public:
    // nullptr if the file cannot be created or mapped.
    static std::unique_ptr<SharedCounter> open(const std::filesystem::path& path);
    ~SharedCounter();
    SharedCounter(const SharedCounter&) = delete;
    SharedCounter& operator=(const SharedCounter&) = delete;

    std::uint64_t load() const;
    void increment();

private:
    SharedCounter() = default;
    volatile std::uint64_t* value_ = nullptr;
#ifdef _WIN32
    void* file_ = nullptr;
    void* mapping_ = nullptr;
#else
    int fd_ = -1;
#endif
};

} // namespace pd::cache
