// Publications: the engine behind the PeerDist server functions (PeerDistServerPublishStream ..
// PeerDistServerCancelAsyncOperation), independent of Win32.
//
// A publication is hashed while the app streams it: V1 (SHA-256) and V2 content information at
// once ([MS-PCCRC] 2.3, 2.4; pd::pccrc generators on the runtime's worker pool); the content
// itself is not kept. Content information for a range is cut from the whole-content CI
// (pd::pccrc::slice). Publications live in the Publisher (this process), keyed by (user, content
// identifier), and in the machine's registry (pd::cache::Publications, shared by every process),
// and are removed by unpublish() or by remove_owner() (the owning instance's shutdown).
//
// Guarantees (operation.h for the general ones): a stream has at most one outstanding operation;
// an operation cancelled before its work began is rolled back (a cancelled add added nothing, a
// cancelled complete did not complete) and never reads the caller's buffer; one that began is not
// cancelled; a closed stream refuses new operations (kClosed) and close() aborts its pending one.
#pragma once

#include "operation.h"

#include "common/runtime.h"
#include "pd/cache/publications.hpp"
#include "pd/pccrc/content_info.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/secret.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pd::peerdist {

// One published content of this process.
struct Publication {
    std::string user;                                 // who published it (peerdist.dll: the user SID)
    std::vector<std::uint8_t> id;                     // the content identifier
    std::uint64_t owner = 0;                          // the publishing instance
    pd::cache::Owner registry_owner;                  // the owner as the machine's registry records it
    std::shared_ptr<pd::cache::Publications> registry; // the machine's registry (nullptr: this process only)
    std::uint64_t declared_length = 0;                // 0 = unknown

    std::mutex mutex; // guards the fields below
    bool complete = false;
    std::optional<pd::pccrc::ContentInfo> v1, v2; // whole-content CIs, once complete
};

// The stream through which a publication's content is hashed (a PEERDIST_STREAM_HANDLE).
class PublishStream : public std::enable_shared_from_this<PublishStream> {
public:
    // Hashes the next bytes of the content on the worker pool; the result's bytes = data.size().
    // Synchronous failures: kAlreadyCompleted after complete(); kInvalidParameter while another
    // operation is outstanding or past the declared length; kClosed.
    Status add(std::span<const std::uint8_t> data, Call call);
    // Finishes the content information (and records it in the machine's registry). Synchronous
    // failures: kAlreadyCompleted; kInvalidParameter while another operation is outstanding, when
    // fewer bytes than declared were added, or when none were (empty content has no CI); kClosed.
    Status complete(Call call);
    // Aborts the pending operation if its key is `key` (any, when null) and its work has not
    // begun; its effects are rolled back and its result delivered before this returns. True if
    // one was aborted.
    bool cancel(const void* key);
    // No operation starts any more; a pending one is aborted (as cancel). Idempotent.
    void close();

    const std::shared_ptr<Publication>& publication() const { return pub_; }
    std::uint64_t owner() const { return pub_->owner; }
    std::uint64_t bytes_added() const;

    PublishStream(Runtime& runtime, std::shared_ptr<Publication> pub, pd::pccrc::Generator v1,
                  pd::pccrc::Generator v2);

private:
    using Work = std::function<Result(PublishStream&)>;
    std::shared_ptr<AsyncOp> cancel_locked(const void* key); // mutex_ held
    void run(std::shared_ptr<AsyncOp> op, Work work);

    Runtime& runtime_;
    const std::shared_ptr<Publication> pub_;
    mutable std::mutex mutex_; // guards everything below (the generators: used by one operation at a time)
    pd::pccrc::Generator gen1_, gen2_;
    std::uint64_t added_ = 0;          // bytes accepted so far (add calls issued)
    bool completing_ = false;          // complete() issued
    bool closed_ = false;
    std::shared_ptr<AsyncOp> pending_; // at most one outstanding operation
    std::uint64_t pending_bytes_ = 0;  // its byte count (add), rolled back on cancel
};

// This process's publications.
class Publisher {
public:
    // `owner_of(instance)`: how the machine's registry records an owner (process id and start,
    // instance); peerdist.dll fills in the process, the tests a fixed value.
    using OwnerOf = std::function<pd::cache::Owner(std::uint64_t instance)>;
    explicit Publisher(OwnerOf owner_of);

    struct Request {
        std::string user;
        std::vector<std::uint8_t> id;
        std::uint64_t owner = 0;
        std::uint64_t declared_length = 0; // 0 = unknown
        std::shared_ptr<pd::cache::Publications> registry; // the machine's registry, or nullptr
    };
    // PublishStream: registers (user, id) here and in the registry and returns the stream that
    // hashes it with `secret` ([MS-PCCRC] 2.2: Kp = HMAC(Ks, HoD)). kAlreadyExists when published
    // (by this process, or a live process in the registry); kInvalidParameter for an empty id.
    Status publish(Runtime& runtime, const pd::pccrc::ServerSecret& secret, Request request,
                   std::shared_ptr<PublishStream>* stream);
    // Unpublish: only the owner's publication; its stream's pending operation is aborted.
    // kNotFound otherwise.
    Status unpublish(const std::string& user, std::span<const std::uint8_t> id, std::uint64_t owner);
    // The serialized content information of [offset, offset + length) of a complete publication
    // (length 0 and offset 0: the whole content) in `version`; a publication of another process
    // is found through `registry`. kNotFound (not published, or not complete), kInvalidParameter
    // (range outside the content).
    Status content_information(const std::string& user, std::span<const std::uint8_t> id, std::uint64_t offset,
                               std::uint64_t length, pd::pccrc::Version version,
                               const std::shared_ptr<pd::cache::Publications>& registry,
                               std::vector<std::uint8_t>* out);
    // ServerCancelAsyncOperation: aborts the pending operation `key` of the owner's stream of `id`.
    // kSuccess (its result delivered) or kOperationNotFound.
    Status cancel(std::uint64_t owner, std::span<const std::uint8_t> id, const void* key);
    // Shutdown of an instance: closes its streams (pending operations aborted) and removes its
    // publications here and from `registry` (and from the registries they were made in).
    void remove_owner(std::uint64_t owner, const std::shared_ptr<pd::cache::Publications>& registry);

    pd::cache::Owner owner_of(std::uint64_t instance) const { return owner_of_(instance); }
    std::size_t size() const;

private:
    using Key = std::pair<std::string, std::vector<std::uint8_t>>;
    std::vector<std::shared_ptr<PublishStream>> streams_locked(); // mutex_ held: live streams

    OwnerOf owner_of_;
    mutable std::mutex mutex_;
    std::map<Key, std::shared_ptr<Publication>> publications_;
    std::vector<std::weak_ptr<PublishStream>> streams_; // every stream made, also of unpublished content
};

// A content-information handle (PeerDistServerOpenContentInformation): the serialized CI, read in
// pieces by retrieve().
class ContentInfoReader {
public:
    explicit ContentInfoReader(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {}
    // Copies the next bytes into `out` (non-empty) and completes at once with their count and
    // the position they start at. kNoMore (synchronous) once everything was read.
    Status retrieve(std::span<std::uint8_t> out, Call call);
    std::size_t size() const { return bytes_.size(); }

private:
    const std::vector<std::uint8_t> bytes_;
    std::mutex mutex_;
    std::uint64_t position_ = 0;
};

} // namespace pd::peerdist
