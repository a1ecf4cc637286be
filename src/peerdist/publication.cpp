// Publications (publication.h).
#include "publication.h"

#include "common/log.h"
#include "pd/pccrc/slice.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>

namespace pd::peerdist {
namespace {

namespace pccrc = pd::pccrc;

Status from_pccrc(std::uint32_t code)
{
    switch (code) {
    case pccrc::kOk: return Status::kSuccess;
    case pccrc::kErrorInvalidParameter: return Status::kInvalidParameter;
    case pccrc::kErrorNotEnoughMemory: return Status::kOutOfMemory;
    default: return Status::kInternalError;
    }
}

} // namespace

// ---- PublishStream -----------------------------------------------------------------------------

PublishStream::PublishStream(Runtime& runtime, std::shared_ptr<Publication> pub, pccrc::Generator v1,
                             pccrc::Generator v2)
    : runtime_(runtime), pub_(std::move(pub)), gen1_(std::move(v1)), gen2_(std::move(v2))
{
}

std::uint64_t PublishStream::bytes_added() const
{
    std::lock_guard lock(mutex_);
    return added_;
}

// Runs a stream operation (hashing) on the runtime's worker pool, which is drained even at the
// runtime's stop, so the operation always completes. If it was cancelled before it began, the work
// is skipped (the caller's buffer is not touched). The generators are used only by the one
// outstanding operation, so the work runs without the stream's lock.
void PublishStream::run(std::shared_ptr<AsyncOp> op, Work work)
{
    boost::asio::post(runtime_.work(), [self = shared_from_this(), op = std::move(op), work = std::move(work)] {
        if (!op->claim())
            return; // cancelled: nothing was consumed
        Result r{Status::kInternalError, 0, std::nullopt};
        try {
            r = work(*self);
        } catch (const std::bad_alloc&) {
            r.status = Status::kOutOfMemory;
        } catch (const std::exception& e) {
            PD_ERROR("publication: {}", e.what());
        }
        {
            std::lock_guard lock(self->mutex_);
            if (self->pending_ == op) {
                self->pending_.reset();
                self->pending_bytes_ = 0;
            }
        }
        op->finish(r);
    });
}

Status PublishStream::add(std::span<const std::uint8_t> data, Call call)
{
    if (data.empty())
        return Status::kInvalidParameter;
    std::shared_ptr<AsyncOp> op;
    {
        std::lock_guard lock(mutex_);
        if (closed_)
            return Status::kClosed;
        if (completing_)
            return Status::kAlreadyCompleted;
        if (pending_)
            return Status::kInvalidParameter; // one outstanding AddToStream per stream
        const std::uint64_t declared = pub_->declared_length;
        if (declared && (added_ > declared || data.size() > declared - added_))
            return Status::kInvalidParameter; // more data than the published length
        added_ += data.size();
        pending_bytes_ = data.size();
        op = pending_ = AsyncOp::start(call);
    }
    run(op, [data](PublishStream& s) -> Result {
        auto r1 = s.gen1_.update(data);
        auto r2 = s.gen2_.update(data);
        if (!r1.ok() || !r2.ok())
            return {Status::kInternalError, 0, std::nullopt};
        return {Status::kSuccess, data.size(), std::nullopt};
    });
    return Status::kPending;
}

Status PublishStream::complete(Call call)
{
    std::shared_ptr<AsyncOp> op;
    {
        std::lock_guard lock(mutex_);
        if (closed_)
            return Status::kClosed;
        if (completing_)
            return Status::kAlreadyCompleted;
        if (pending_)
            return Status::kInvalidParameter;
        const std::uint64_t declared = pub_->declared_length;
        if (declared && added_ != declared)
            return Status::kInvalidParameter; // fewer bytes than the published length
        if (added_ == 0)
            return Status::kInvalidParameter; // empty content has no content information
        completing_ = true;
        op = pending_ = AsyncOp::start(call);
    }
    run(op, [](PublishStream& s) -> Result {
        auto v1 = s.gen1_.finish();
        auto v2 = s.gen2_.finish();
        if (!v1 || !v2)
            return {Status::kInternalError, 0, std::nullopt};
        Publication& pub = *s.pub_;
        if (pub.registry) {
            // Other processes of the user open the content information through the registry.
            auto b1 = pccrc::serialize(v1.value());
            auto b2 = pccrc::serialize(v2.value());
            if (!b1 || !b2)
                return {Status::kInternalError, 0, std::nullopt};
            pub.registry->complete(pub.user, pub.id, pub.registry_owner, b1.value(), b2.value());
        }
        std::lock_guard lock(pub.mutex);
        pub.v1 = std::move(v1.value());
        pub.v2 = std::move(v2.value());
        pub.complete = true;
        return {Status::kSuccess, 0, std::nullopt};
    });
    return Status::kPending;
}

std::shared_ptr<AsyncOp> PublishStream::cancel_locked(const void* key)
{
    if (!pending_ || (key && pending_->key() != key) || !pending_->claim())
        return nullptr;
    if (pending_bytes_)
        added_ -= pending_bytes_;
    else
        completing_ = false;
    pending_bytes_ = 0;
    return std::move(pending_);
}

bool PublishStream::cancel(const void* key)
{
    std::shared_ptr<AsyncOp> op;
    {
        std::lock_guard lock(mutex_);
        op = cancel_locked(key);
    }
    if (!op)
        return false;
    op->finish({Status::kAborted, 0, std::nullopt});
    return true;
}

void PublishStream::close()
{
    std::shared_ptr<AsyncOp> op;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        op = cancel_locked(nullptr);
    }
    if (op)
        op->finish({Status::kAborted, 0, std::nullopt});
}

// ---- Publisher ---------------------------------------------------------------------------------

Publisher::Publisher(OwnerOf owner_of) : owner_of_(std::move(owner_of)) {}

std::size_t Publisher::size() const
{
    std::lock_guard lock(mutex_);
    return publications_.size();
}

std::vector<std::shared_ptr<PublishStream>> Publisher::streams_locked()
{
    std::vector<std::shared_ptr<PublishStream>> live;
    std::erase_if(streams_, [&](const std::weak_ptr<PublishStream>& w) {
        auto s = w.lock();
        if (!s)
            return true;
        live.push_back(std::move(s));
        return false;
    });
    return live;
}

Status Publisher::publish(Runtime& runtime, const pccrc::ServerSecret& secret, Request request,
                          std::shared_ptr<PublishStream>* stream)
{
    if (request.id.empty() || !stream)
        return Status::kInvalidParameter;
    auto g1 = pccrc::Generator::create(pccrc::Version::kV1, secret, {});
    auto g2 = pccrc::Generator::create(pccrc::Version::kV2, secret, {});
    if (!g1 || !g2)
        return Status::kInternalError;
    auto pub = std::make_shared<Publication>();
    pub->user = std::move(request.user);
    pub->id = std::move(request.id);
    pub->owner = request.owner;
    pub->registry_owner = owner_of_(request.owner);
    pub->registry = std::move(request.registry);
    pub->declared_length = request.declared_length;
    auto s = std::make_shared<PublishStream>(runtime, pub, std::move(g1.value()), std::move(g2.value()));
    Key key{pub->user, pub->id};
    {
        std::lock_guard lock(mutex_);
        if (publications_.count(key))
            return Status::kAlreadyExists;
        if (pub->registry && !pub->registry->add(pub->user, pub->id, pub->registry_owner))
            return Status::kAlreadyExists; // published by another (live) process of this user
        publications_.emplace(std::move(key), pub);
        streams_locked();
        streams_.push_back(s);
    }
    *stream = std::move(s);
    return Status::kSuccess;
}

Status Publisher::unpublish(const std::string& user, std::span<const std::uint8_t> id, std::uint64_t owner)
{
    Key key{user, std::vector<std::uint8_t>(id.begin(), id.end())};
    std::shared_ptr<Publication> pub;
    std::vector<std::shared_ptr<PublishStream>> streams;
    {
        std::lock_guard lock(mutex_);
        auto it = publications_.find(key);
        if (it == publications_.end() || it->second->owner != owner)
            return Status::kNotFound;
        pub = it->second;
        publications_.erase(it);
        streams = streams_locked();
    }
    if (pub->registry)
        pub->registry->remove(pub->user, pub->id, pub->registry_owner);
    // Pending stream operations on this content are cancelled (Unpublish remarks).
    for (auto& s : streams)
        if (s->publication() == pub)
            s->cancel(nullptr);
    return Status::kSuccess;
}

Status Publisher::content_information(const std::string& user, std::span<const std::uint8_t> id,
                                      std::uint64_t offset, std::uint64_t length, pccrc::Version version,
                                      const std::shared_ptr<pd::cache::Publications>& registry,
                                      std::vector<std::uint8_t>* out)
{
    Key key{user, std::vector<std::uint8_t>(id.begin(), id.end())};
    std::shared_ptr<Publication> pub;
    {
        std::lock_guard lock(mutex_);
        if (auto it = publications_.find(key); it != publications_.end())
            pub = it->second;
    }
    std::optional<pccrc::ContentInfo> whole;
    if (pub) {
        std::lock_guard lock(pub->mutex);
        if (pub->complete)
            whole = version == pccrc::Version::kV2 ? pub->v2 : pub->v1;
    } else if (registry) {
        // Published by another process of this user: its CI bytes come from the shared registry
        // (written by that process, so parsed as untrusted input).
        auto found = registry->find(user, id);
        if (found && found->complete) {
            auto parsed = pccrc::parse(version == pccrc::Version::kV2 ? found->v2 : found->v1);
            if (parsed)
                whole = std::move(parsed.value());
            else
                PD_WARN("publications: stored content information does not parse: {}", parsed.status().message());
        }
    }
    if (!whole)
        return Status::kNotFound; // not published, or its stream is not complete yet
    const std::uint64_t size = whole->range.end;
    pccrc::ByteRange range{0, size};
    if (offset != 0 || length != 0) {
        if (length == 0 || offset >= size || length > size - offset)
            return Status::kInvalidParameter;
        range = {offset, offset + length};
    }
    // [MS-PCCRC] 2.3 / 2.4 ranged content information (fact sheet A.5, A.6).
    auto cut = pccrc::slice(*whole, range);
    if (!cut)
        return from_pccrc(cut.code());
    auto bytes = pccrc::serialize(cut.value());
    if (!bytes)
        return from_pccrc(bytes.code());
    *out = std::move(bytes.value());
    return Status::kSuccess;
}

Status Publisher::cancel(std::uint64_t owner, std::span<const std::uint8_t> id, const void* key)
{
    std::vector<std::shared_ptr<PublishStream>> streams;
    {
        std::lock_guard lock(mutex_);
        streams = streams_locked();
    }
    for (auto& s : streams) {
        const auto& pub = s->publication();
        if (s->owner() == owner && std::equal(pub->id.begin(), pub->id.end(), id.begin(), id.end()) && s->cancel(key))
            return Status::kSuccess;
    }
    // Its work already began (or finished): there is nothing left to cancel.
    return Status::kOperationNotFound;
}

void Publisher::remove_owner(std::uint64_t owner, const std::shared_ptr<pd::cache::Publications>& registry)
{
    std::vector<std::shared_ptr<PublishStream>> streams;
    std::vector<std::shared_ptr<pd::cache::Publications>> registries;
    if (registry)
        registries.push_back(registry);
    {
        std::lock_guard lock(mutex_);
        for (auto it = publications_.begin(); it != publications_.end();) {
            if (it->second->owner != owner) {
                ++it;
                continue;
            }
            if (auto& r = it->second->registry; r && std::find(registries.begin(), registries.end(), r) == registries.end())
                registries.push_back(r);
            it = publications_.erase(it);
        }
        streams = streams_locked();
    }
    for (auto& s : streams)
        if (s->owner() == owner)
            s->close();
    for (auto& r : registries)
        r->remove_all(owner_of_(owner));
}

// ---- ContentInfoReader -------------------------------------------------------------------------

Status ContentInfoReader::retrieve(std::span<std::uint8_t> out, Call call)
{
    if (out.empty())
        return Status::kInvalidParameter;
    std::shared_ptr<AsyncOp> op;
    std::uint64_t position, n;
    {
        std::lock_guard lock(mutex_);
        if (position_ >= bytes_.size())
            return Status::kNoMore;
        position = position_;
        n = std::min<std::uint64_t>(out.size(), bytes_.size() - position);
        std::memcpy(out.data(), bytes_.data() + position, n);
        position_ += n;
        op = AsyncOp::start(call);
    }
    // Completed at once (the CI is in memory); the offset is the position of these bytes.
    op->complete({Status::kSuccess, n, position});
    return Status::kPending;
}

} // namespace pd::peerdist
