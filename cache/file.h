// SPDX-License-Identifier: MIT
//
// A data file of the cache with positional reads and writes, shareable by every process
// (Windows: FILE_SHARE_READ | WRITE | DELETE, so another process may delete it while it is open).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
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
    // A positional read (pread / ReadFile with an offset), never a memory mapping: another
    // process (or a hostile user) may truncate the file at any moment, and a mapped read past
    // the new end would fault instead of failing.
    bool read_at(std::uint64_t offset, std::span<std::uint8_t> out);
    bool write_at(std::uint64_t offset, std::span<const std::uint8_t> data);
    // Grows the file to `size` bytes (sparse where the platform allows) if it is smaller.
    bool reserve(std::uint64_t size);

    // What changes whenever anybody writes or truncates the file: its size, its modification
    // time and its status-change time (ctime; Windows ChangeTime, which Wine takes from ctime).
    // ctime cannot be set back by an unprivileged user (utimensat sets only atime/mtime), so an
    // unchanged stamp means the bytes read under it are the bytes verified under it.
    struct Stamp {
        std::uint64_t size = 0;
        std::int64_t change = 0; // ns (Linux) / 100 ns (Windows) since the platform's epoch
        std::int64_t write = 0;
        bool operator==(const Stamp&) const = default;
        // True once the file has not changed for `ms` milliseconds: only then is a verification
        // remembered (a second write within the clock tick of the first would leave ctime as is).
        bool settled(unsigned ms) const;
    };
    bool stamp(Stamp& out) const;
    // False once the file was deleted or replaced on disk (no name refers to it any more, or a
    // delete is pending): writes through this handle would reach no reader. One fstat /
    // NtQueryInformationFile, no path lookup.
    bool linked() const;

private:
    File() = default;
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

// A 64-bit counter in shared memory mapped into every process that opens it for the same cache
// directory: a change of the cache made by any process is seen by the others with one memory
// load, no system call. The memory is named after the directory's identity (volume and file
// index / device and inode), not backed by a file inside the cache: a file there could be
// truncated by anyone who can write the folder, and a read of a truncated mapping faults.
//   Windows (and Wine): a pagefile-backed section "Local\\OpenPeerDist-cache-<volume>-<index>";
//   Linux (native tools): the file "changes" in the directory (mode 0600; only this user can
//   write the folder, and this user can harm its own processes anyway).
class SharedCounter {
public:
    // nullptr if the directory cannot be identified or the memory cannot be created or mapped.
    static std::unique_ptr<SharedCounter> open(const std::filesystem::path& directory);
    ~SharedCounter();
    SharedCounter(const SharedCounter&) = delete;
    SharedCounter& operator=(const SharedCounter&) = delete;

    std::uint64_t load() const;
    void increment();

private:
    SharedCounter() = default;
    volatile std::uint64_t* value_ = nullptr;
#ifdef _WIN32
    void* mapping_ = nullptr;
#endif
};

} // namespace pd::cache
