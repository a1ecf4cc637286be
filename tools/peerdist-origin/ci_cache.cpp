// SPDX-License-Identifier: MIT
//
// peerdist-origin: Content Information computed once per file version and cached (ci_cache.hpp).
#include "ci_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "pd/pccrc/crypto.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/slice.hpp"
#include "pd/pccrc/verify.hpp"

namespace pd::origin {

namespace pccrc = pd::pccrc;

// -------------------------------------------------------------------------------------------------
// WholeCi

WholeCi::WholeCi(FileId id, pccrc::ContentInfo info, Bytes bytes)
    : id_(id), info_(std::move(info)), bytes_(std::make_shared<const Bytes>(std::move(bytes)))
{
}

std::uint64_t WholeCi::footprint() const noexcept
{
    // The encoded bytes, the decoded copy of the block hashes and the segment table.
    return bytes_->size() + info_.block_hashes.size() + info_.segments.size() * sizeof(pccrc::SegmentInfo) + 512;
}

std::shared_ptr<const Bytes> WholeCi::range(std::uint64_t first, std::uint64_t last) const
{
    if (first == info_.range.start && last + 1 == info_.range.end)
        return bytes_;
    if (last < first || last >= info_.range.end)
        return nullptr;
    const auto k = std::make_pair(first, last);
    {
        std::lock_guard lock(mutex_);
        if (auto it = slices_.find(k); it != slices_.end())
            return it->second;
    }
    auto cut = pccrc::slice(info_, pccrc::ByteRange{first, last + 1});
    if (!cut)
        return nullptr;
    auto encoded = pccrc::serialize(*cut);
    if (!encoded)
        return nullptr;
    auto out = std::make_shared<const Bytes>(std::move(*encoded));
    std::lock_guard lock(mutex_);
    if (slices_.size() >= kMaxSlicesPerEntry)
        slices_.clear();  // bounded; iPXE and BITS ask ranges once, a cleared slice is recut cheaply
    slices_.emplace(k, out);
    return out;
}

// -------------------------------------------------------------------------------------------------
// CiCache

struct CiCache::Job {
    std::string slot_key;
    std::string key;
    pccrc::Version version = pccrc::Version::kV1;
    FileId id;
    std::shared_ptr<FileHandle> file;
    std::vector<Done> waiters;  // guarded by CiCache::mutex_
};

namespace {

std::string slot_key(const std::string& key, pccrc::Version v)
{
    return key + (v == pccrc::Version::kV2 ? "\nv2" : "\nv1");
}

constexpr const char* kDiskMagic = "peerdist-origin-ci 1";

}  // namespace

CiCache::CiCache(pccrc::ServerSecret secret, CiCacheOptions options)
    : secret_(std::move(secret)), options_(std::move(options)), pool_(options_.threads == 0 ? 1 : options_.threads)
{
}

CiCache::~CiCache() { shutdown(); }

void CiCache::shutdown()
{
    stopping_ = true;  // running hashes stop at their next read
    pool_.stop();      // queued jobs are not run
    pool_.join();
    // Waiters belong to connections of an I/O context that is going away: drop, never call them.
    std::vector<std::shared_ptr<Job>> jobs;
    {
        std::lock_guard lock(mutex_);
        for (auto& w : jobs_)
            if (auto j = w.lock())
                jobs.push_back(std::move(j));
        jobs_.clear();
        for (auto& j : jobs)
            j->waiters.clear();
        for (auto& [k, slot] : slots_)
            slot.job.reset();
    }
}

std::shared_ptr<const WholeCi> CiCache::find(const std::string& key, pccrc::Version version, const FileId& id)
{
    std::lock_guard lock(mutex_);
    auto it = slots_.find(slot_key(key, version));
    if (it == slots_.end() || !it->second.ready || !(it->second.ready->id() == id))
        return nullptr;
    it->second.last_used = ++clock_;
    return it->second.ready;
}

void CiCache::request(const std::string& key, pccrc::Version version, const ResolvedFile& file, Done done)
{
    std::shared_ptr<const WholeCi> ready;
    std::shared_ptr<Job> start;
    {
        std::lock_guard lock(mutex_);
        const std::string sk = slot_key(key, version);
        Slot& slot = slots_[sk];
        slot.last_used = ++clock_;
        if (slot.ready && slot.ready->id() == file.id) {
            ready = slot.ready;
        } else if (slot.job && slot.job->id == file.id) {
            if (done)
                slot.job->waiters.push_back(std::move(done));  // already being computed
            return;
        } else if (stopping_) {
            return;  // shut down: nothing is computed any more (the waiter is dropped)
        } else {
            // New file version (or first request): a new job; an older job still running for a
            // previous version keeps its own waiters but will not be stored (slot.job moved on).
            auto job = std::make_shared<Job>();
            job->slot_key = sk;
            job->key = key;
            job->version = version;
            job->id = file.id;
            job->file = file.file;
            if (done)
                job->waiters.push_back(std::move(done));
            slot.job = job;
            ++stats_.running;
            std::erase_if(jobs_, [](const std::weak_ptr<Job>& w) { return w.expired(); });
            jobs_.push_back(job);
            start = std::move(job);
        }
    }
    if (ready) {
        if (done)
            done(std::move(ready));
        return;
    }
    boost::asio::post(pool_, [this, start] { run(start); });
}

void CiCache::run(const std::shared_ptr<Job>& job)
{
    std::shared_ptr<const WholeCi> result;
    bool from_disk = false;
    if (!stopping_) {
        if (!options_.disk_dir.empty()) {
            result = load_from_disk(*job);
            from_disk = result != nullptr;
        }
        if (!result) {
            result = compute(*job);
            if (result && !options_.disk_dir.empty())
                store_on_disk(*job, *result);
        }
    }
    std::vector<Done> waiters;
    {
        std::lock_guard lock(mutex_);
        --stats_.running;
        if (!result)
            ++stats_.failures;
        else if (from_disk)
            ++stats_.disk_loads;
        else
            ++stats_.computed;
        waiters.swap(job->waiters);
        auto it = slots_.find(job->slot_key);
        if (it != slots_.end() && it->second.job == job) {
            it->second.job.reset();
            if (result) {
                if (it->second.ready)
                    memory_ -= it->second.ready->footprint();
                it->second.ready = result;
                memory_ += result->footprint();
                evict_locked();
            } else if (!it->second.ready) {
                slots_.erase(it);
            }
        }
    }
    for (auto& w : waiters)
        w(result);
}

std::shared_ptr<const WholeCi> CiCache::compute(const Job& job)
{
    const int fd = job.file->fd();
    if (job.id.size == 0)
        return nullptr;  // [MS-PCCRC] 2.3: no CI for empty content
    pccrc::GeneratorOptions opts;
    opts.algorithm = pccrc::HashAlgorithm::kSha256;  // fact sheet A.2: Windows' default
    opts.threads = 1;
    auto gen = pccrc::Generator::create(job.version, secret_, opts);
    if (!gen) {
        PD_ERROR("origin: {}: cannot create the CI generator: {}", job.key, gen.status().message());
        return nullptr;
    }
    const auto status = gen->update_from(job.id.size, [&](std::uint64_t offset, std::span<std::uint8_t> dst) {
        if (stopping_)
            return pccrc::Status(pccrc::kErrorInvalidState, "stopping");
        std::size_t done = 0;
        while (done < dst.size()) {
            const ssize_t n = ::pread(fd, dst.data() + done, dst.size() - done, static_cast<off_t>(offset + done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)  // an error, or the file shrank under us
                return pccrc::Status(pccrc::kErrorReadFault, n < 0 ? std::strerror(errno) : "unexpected end of file");
            done += static_cast<std::size_t>(n);
        }
        return pccrc::Status();
    });
    if (!status.ok()) {
        if (!stopping_)
            PD_WARN("origin: {}: hashing failed: {}", job.key, status.message());
        return nullptr;
    }
    auto info = gen->finish();
    if (!info) {
        PD_WARN("origin: {}: hashing failed: {}", job.key, info.status().message());
        return nullptr;
    }
    // The bytes hashed must be the version the request saw: a change while hashing discards it.
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !(file_id(st) == job.id)) {
        PD_INFO("origin: {}: changed while hashing; CI discarded", job.key);
        return nullptr;
    }
    auto bytes = pccrc::serialize(*info);
    if (!bytes)
        return nullptr;
    PD_INFO("origin: {}: CI V{} computed ({} bytes for {} bytes of content, {} segments)", job.key,
            job.version == pccrc::Version::kV2 ? 2 : 1, bytes->size(), job.id.size, info->segments.size());
    return std::make_shared<const WholeCi>(job.id, std::move(*info), std::move(*bytes));
}

std::string CiCache::disk_path(const std::string& key, pccrc::Version version) const
{
    pccrc::Hasher h(pccrc::HashAlgorithm::kSha256);
    const auto d = h.digest({reinterpret_cast<const std::uint8_t*>(key.data()), key.size()});
    return options_.disk_dir + "/" + pccrc::to_hex(d.span()) + (version == pccrc::Version::kV2 ? ".v2" : ".v1");
}

std::shared_ptr<const WholeCi> CiCache::load_from_disk(const Job& job)
{
    const std::string path = disk_path(job.key, job.version);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return nullptr;
    FileHandle holder(fd);
    struct stat st {};
    // A CI is far below 1 MiB + 1/256 of its content (V1 SHA-512 ~ 1/500, V2 ~ 1/1000).
    const std::uint64_t bound = (1ull << 20) + job.id.size / 256;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > bound)
        return nullptr;
    Bytes raw(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < raw.size()) {
        const ssize_t n = ::pread(fd, raw.data() + got, raw.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return nullptr;
        got += static_cast<std::size_t>(n);
    }
    // Header line: magic, then the FileId fields (device excepted) in decimal.
    const auto nl = std::find(raw.begin(), raw.end(), std::uint8_t('\n'));
    if (nl == raw.end() || nl - raw.begin() > 256)
        return nullptr;
    const std::string header(raw.begin(), nl);
    char magic[32] = {};
    unsigned long long ino = 0, size = 0;
    long long mtime = 0, ctime = 0;
    if (std::sscanf(header.c_str(), "%31[^,],%llu,%llu,%lld,%lld", magic, &ino, &size, &mtime, &ctime) != 5 ||
        std::strcmp(magic, kDiskMagic) != 0)
        return nullptr;
    if (ino != job.id.ino || size != job.id.size || mtime != job.id.mtime_ns || ctime != job.id.ctime_ns)
        return nullptr;
    Bytes ci_bytes(nl + 1, raw.end());
    auto info = pccrc::parse(ci_bytes);
    if (!info || info->version != job.version || info->range.start != 0 || info->range.end != job.id.size ||
        info->segments.empty() || !pccrc::verify_segment_secret(*info, 0, secret_))
        return nullptr;
    PD_DEBUG("origin: {}: CI V{} loaded from {}", job.key, job.version == pccrc::Version::kV2 ? 2 : 1, path);
    return std::make_shared<const WholeCi>(job.id, std::move(*info), std::move(ci_bytes));
}

void CiCache::store_on_disk(const Job& job, const WholeCi& ci)
{
    const std::string path = disk_path(job.key, job.version);
    const std::string tmp = path + ".tmp" + std::to_string(::getpid()) + "-" +
                            std::to_string(reinterpret_cast<std::uintptr_t>(&job));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        PD_WARN("origin: cannot write {}: {}", tmp, std::strerror(errno));
        return;
    }
    char header[160];
    const int hl = std::snprintf(header, sizeof header, "%s,%llu,%llu,%lld,%lld\n", kDiskMagic,
                                 static_cast<unsigned long long>(job.id.ino), static_cast<unsigned long long>(job.id.size),
                                 static_cast<long long>(job.id.mtime_ns), static_cast<long long>(job.id.ctime_ns));
    bool ok = hl > 0;
    auto write_all = [&](const void* p, std::size_t n) {
        const auto* c = static_cast<const std::uint8_t*>(p);
        while (ok && n > 0) {
            const ssize_t w = ::write(fd, c, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                ok = false;
                break;
            }
            c += w;
            n -= static_cast<std::size_t>(w);
        }
    };
    write_all(header, static_cast<std::size_t>(hl));
    write_all(ci.bytes()->data(), ci.bytes()->size());
    ok = ::close(fd) == 0 && ok;
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        PD_WARN("origin: cannot write {}: {}", path, std::strerror(errno));
        ::unlink(tmp.c_str());
    }
}

void CiCache::evict_locked()
{
    while (memory_ > options_.memory_limit) {
        auto victim = slots_.end();
        for (auto it = slots_.begin(); it != slots_.end(); ++it)
            if (it->second.ready && (victim == slots_.end() || it->second.last_used < victim->second.last_used))
                victim = it;
        if (victim == slots_.end())
            return;
        memory_ -= victim->second.ready->footprint();
        victim->second.ready.reset();
        if (!victim->second.job)
            slots_.erase(victim);
    }
}

CiCache::Stats CiCache::stats() const
{
    std::lock_guard lock(mutex_);
    Stats s = stats_;
    s.memory = memory_;
    s.entries = 0;
    for (const auto& [k, slot] : slots_)
        s.entries += slot.ready ? 1 : 0;
    return s;
}

}  // namespace pd::origin
