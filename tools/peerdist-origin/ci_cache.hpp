// SPDX-License-Identifier: MIT
//
// peerdist-origin: the Content Information of served files, computed once and cached.
//
// Contract:
//  - One whole-file CI per (file, CI version): V1 with SHA-256 (Windows' default, [MS-PCCRC] 2.3;
//    fact sheet A.2) or V2 ([MS-PCCRC] 2.4), keyed on the file's real path relative to the root and
//    on its FileId (device, inode, size, mtime, ctime). A request for another FileId of the same
//    path (the file changed) computes a new CI; the old one is dropped when the new one is stored.
//  - The CI of a byte range ([MS-PCCRTP] 3.2.5.1; fact sheet E) is cut from the whole-file CI
//    with pd::pccrc::slice(), which writes exactly what the generator would write for that range
//    (the V1 HoD and Kp of a segment depend on all of its blocks, so the whole segments are hashed
//    either way). Up to kMaxSlicesPerEntry ranged CIs are kept per entry.
//  - Hashing runs on the cache's own threads (never on an I/O thread), reading the file through
//    the descriptor the request opened. After hashing the descriptor is fstat()ed again: if the
//    file changed meanwhile the result is discarded (the waiters get nullptr).
//  - Memory: ready entries are evicted least-recently-used first once their total exceeds
//    memory_limit. Disk (optional): `<disk_dir>/<sha256(path)>.v1|.v2`, a one-line header naming
//    the FileId, then the CI; reused only when the FileId (device excepted: it may change across
//    reboots) matches, the CI parses, describes the whole file and its first Kp matches the current
//    server secret. Written atomically (temporary file + rename), mode 0600.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "files.hpp"
#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/secret.hpp"
#include "pd/pccrc/types.hpp"

namespace pd::origin {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::size_t kMaxSlicesPerEntry = 64;

/// The CI of one version of one whole file.
class WholeCi {
public:
    WholeCi(FileId id, pd::pccrc::ContentInfo info, Bytes bytes);

    [[nodiscard]] const FileId& id() const noexcept { return id_; }
    [[nodiscard]] const pd::pccrc::ContentInfo& info() const noexcept { return info_; }
    [[nodiscard]] const std::shared_ptr<const Bytes>& bytes() const noexcept { return bytes_; }
    /// Approximate memory held (for the cache's limit).
    [[nodiscard]] std::uint64_t footprint() const noexcept;

    /// The CI of bytes [first, last] (inclusive; last < file size): the whole CI itself for the
    /// whole file, else a cached or freshly cut slice. nullptr only if slicing fails (it cannot
    /// for a range inside the file).
    std::shared_ptr<const Bytes> range(std::uint64_t first, std::uint64_t last) const;

private:
    FileId id_;
    pd::pccrc::ContentInfo info_;
    std::shared_ptr<const Bytes> bytes_;
    mutable std::mutex mutex_;
    mutable std::map<std::pair<std::uint64_t, std::uint64_t>, std::shared_ptr<const Bytes>> slices_;
};

struct CiCacheOptions {
    unsigned threads = 1;                           // hashing threads
    std::uint64_t memory_limit = 256ull << 20;      // bytes of ready CIs kept in memory
    std::string disk_dir;                           // empty: memory only
};

class CiCache {
public:
    /// nullptr: the CI could not be computed (read error, file changed while hashing, stopping).
    using Done = std::function<void(std::shared_ptr<const WholeCi>)>;

    struct Stats {
        std::uint64_t computed = 0;    // CIs hashed from file bytes
        std::uint64_t disk_loads = 0;  // CIs taken from disk_dir
        std::uint64_t failures = 0;
        std::uint64_t entries = 0;     // ready entries in memory
        std::uint64_t memory = 0;      // their footprint
        std::uint64_t running = 0;     // jobs queued or hashing
    };

    CiCache(pd::pccrc::ServerSecret secret, CiCacheOptions options);
    /// Stops: running hashes are aborted, queued ones dropped, threads joined.
    ~CiCache();
    CiCache(const CiCache&) = delete;
    CiCache& operator=(const CiCache&) = delete;

    /// The CI of exactly this file version, if ready (marks it recently used).
    std::shared_ptr<const WholeCi> find(const std::string& key, pd::pccrc::Version version, const FileId& id);

    /// Makes sure the CI of this file version is ready or being computed. If `done` is set it is
    /// called exactly once: at once (on the caller's thread) when the CI is ready, else on a
    /// hashing thread when the job ends. `done` must not call back into the cache synchronously
    /// with a lock of its own held.
    void request(const std::string& key, pd::pccrc::Version version, const ResolvedFile& file, Done done);

    Stats stats() const;

    /// Aborts running hashes, drops queued ones and every waiter without calling it, joins the
    /// hashing threads. Afterwards request() only answers from what is ready. Idempotent; the
    /// destructor calls it.
    void shutdown();

private:
    struct Job;
    struct Slot {
        std::shared_ptr<const WholeCi> ready;
        std::shared_ptr<Job> job;  // computing this slot's current file version
        std::uint64_t last_used = 0;
    };

    void run(const std::shared_ptr<Job>& job);
    std::shared_ptr<const WholeCi> compute(const Job& job);
    std::shared_ptr<const WholeCi> load_from_disk(const Job& job);
    void store_on_disk(const Job& job, const WholeCi& ci);
    std::string disk_path(const std::string& key, pd::pccrc::Version version) const;
    void evict_locked();

    pd::pccrc::ServerSecret secret_;
    CiCacheOptions options_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex mutex_;
    std::map<std::string, Slot> slots_;  // key + '\n' + version
    std::uint64_t clock_ = 0;
    std::uint64_t memory_ = 0;
    Stats stats_;
    std::vector<std::weak_ptr<Job>> jobs_;  // every job not yet finished (for shutdown)

    boost::asio::thread_pool pool_;  // last: joined first at destruction
};

}  // namespace pd::origin
