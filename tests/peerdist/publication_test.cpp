// SPDX-License-Identifier: MIT
//
// Native tests of publications (src/peerdist/publication.h) on a real Runtime and a real machine
// registry (pd::cache::Publications) in a temporary directory: published content hashed into
// content information identical to pd_pccrc's generator (whole and ranged, V1 and V2), the stream
// rules (declared length, one operation at a time, cancel before the work began rolls back),
// unpublish, another "process" finding a publication through the registry, shutdown of an owner
// with pending work, and many threads publishing at once. Label concurrency: also run under TSan.
#include "publication.h"
#include "engine_test_support.h"

#include "pd/pccrc/generator.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace fs = std::filesystem;
namespace pccrc = pd::pccrc;
using namespace pd::peerdist;
using namespace pd::peerdist::test;
using namespace std::chrono_literals;

namespace {

const std::array<std::uint8_t, 32> kKey{4, 2, 4, 2};

class PublicationTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = temp_dir("pd-publication");
        runtime_ = std::make_unique<pd::Runtime>(1, 1); // one worker: tests can hold it busy
        data_ = random_bytes(3 * 65536 + 777, 21);
    }
    void TearDown() override
    {
        release_worker();
        runtime_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // A Publisher as one process of the machine: `pid` stands for the process, `alive` says
    // which owners of the registry still exist.
    std::unique_ptr<Publisher> publisher(std::uint32_t pid)
    {
        return std::make_unique<Publisher>([pid](std::uint64_t instance) { return pd::cache::Owner{pid, 1, instance}; });
    }
    std::shared_ptr<pd::cache::Publications> registry(pd::cache::Publications::Alive alive = nullptr)
    {
        if (!alive)
            alive = [](const pd::cache::Owner&) { return true; };
        std::string error;
        auto r = pd::cache::Publications::open(dir_, alive, &error);
        EXPECT_TRUE(r) << error;
        return r;
    }
    Publisher::Request request(std::string user, std::string id, std::uint64_t owner, std::uint64_t declared = 0,
                               std::shared_ptr<pd::cache::Publications> reg = nullptr)
    {
        return {std::move(user), std::vector<std::uint8_t>(id.begin(), id.end()), owner, declared, std::move(reg)};
    }
    static std::span<const std::uint8_t> id(const std::string& s)
    {
        return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
    }
    pccrc::ServerSecret secret() const { return pccrc::ServerSecret::from_key(kKey); }

    // Streams `data` in pieces, then completes; every result must be a success.
    void stream_all(PublishStream& s, std::span<const std::uint8_t> data, std::size_t piece)
    {
        for (std::size_t at = 0; at < data.size(); at += piece) {
            auto c = Capture::make();
            auto part = data.subspan(at, std::min(piece, data.size() - at));
            ASSERT_EQ(s.add(part, c->call()), Status::kPending);
            Result r = c->result();
            ASSERT_EQ(r.status, Status::kSuccess);
            ASSERT_EQ(r.bytes, part.size());
        }
        auto c = Capture::make();
        ASSERT_EQ(s.complete(c->call()), Status::kPending);
        ASSERT_EQ(c->result().status, Status::kSuccess);
    }

    // Holds the runtime's only worker busy until release_worker(): queued operations stay queued.
    void hold_worker()
    {
        held_ = std::make_shared<std::promise<void>>();
        auto started = std::make_shared<std::promise<void>>();
        boost::asio::post(runtime_->work(), [f = held_->get_future().share(), started] {
            started->set_value();
            f.wait();
        });
        started->get_future().wait();
    }
    void release_worker()
    {
        if (held_)
            held_->set_value();
        held_.reset();
    }

    fs::path dir_;
    std::unique_ptr<pd::Runtime> runtime_;
    std::vector<std::uint8_t> data_;
    std::shared_ptr<std::promise<void>> held_;
};

TEST_F(PublicationTest, PublishedContentInformationEqualsTheGenerators)
{
    auto p = publisher(1);
    std::shared_ptr<PublishStream> s;
    ASSERT_EQ(p->publish(*runtime_, secret(), request("S-1-5-21-1", "content-a", 10, data_.size()), &s),
              Status::kSuccess);
    std::vector<std::uint8_t> ci;
    EXPECT_EQ(p->content_information("S-1-5-21-1", id("content-a"), 0, 0, pccrc::Version::kV1, nullptr, &ci),
              Status::kNotFound); // not complete yet
    stream_all(*s, data_, 10000);
    EXPECT_EQ(s->bytes_added(), data_.size());

    for (auto v : {pccrc::Version::kV1, pccrc::Version::kV2}) {
        ASSERT_EQ(p->content_information("S-1-5-21-1", id("content-a"), 0, 0, v, nullptr, &ci), Status::kSuccess);
        auto expected = pccrc::generate_bytes(v, data_, secret());
        ASSERT_TRUE(expected.ok());
        EXPECT_EQ(ci, expected.value()) << static_cast<int>(v);
    }
    // A range: the same bytes the generator writes for that range ([MS-PCCRC] 2.3; fact sheet A.5).
    pccrc::GeneratorOptions ranged;
    ranged.range = pccrc::RangeRequest{70000, 100000};
    auto expected = pccrc::generate_bytes(pccrc::Version::kV1, data_, secret(), ranged);
    ASSERT_TRUE(expected.ok());
    ASSERT_EQ(p->content_information("S-1-5-21-1", id("content-a"), 70000, 100000, pccrc::Version::kV1, nullptr, &ci),
              Status::kSuccess);
    EXPECT_EQ(ci, expected.value());
    // Ranges outside the content; another user's identifier.
    EXPECT_EQ(p->content_information("S-1-5-21-1", id("content-a"), 5, 0, pccrc::Version::kV1, nullptr, &ci),
              Status::kInvalidParameter);
    EXPECT_EQ(p->content_information("S-1-5-21-1", id("content-a"), data_.size(), 1, pccrc::Version::kV1, nullptr, &ci),
              Status::kInvalidParameter);
    EXPECT_EQ(p->content_information("S-1-5-21-1", id("content-a"), 1, data_.size(), pccrc::Version::kV1, nullptr, &ci),
              Status::kInvalidParameter);
    EXPECT_EQ(p->content_information("S-1-5-21-2", id("content-a"), 0, 0, pccrc::Version::kV1, nullptr, &ci),
              Status::kNotFound);

    // Streams after completion refuse more.
    auto c = Capture::make();
    EXPECT_EQ(s->add(data_, c->call()), Status::kAlreadyCompleted);
    EXPECT_EQ(s->complete(c->call()), Status::kAlreadyCompleted);
    EXPECT_EQ(c->begun(), 0u);
}

TEST_F(PublicationTest, StreamRules)
{
    auto p = publisher(1);
    std::shared_ptr<PublishStream> s;
    ASSERT_EQ(p->publish(*runtime_, secret(), request("u", "rules", 1, 1000), &s), Status::kSuccess);
    std::shared_ptr<PublishStream> dup;
    EXPECT_EQ(p->publish(*runtime_, secret(), request("u", "rules", 2), &dup), Status::kAlreadyExists);
    EXPECT_EQ(p->publish(*runtime_, secret(), request("u", "", 2), &dup), Status::kInvalidParameter);
    ASSERT_EQ(p->publish(*runtime_, secret(), request("other-user", "rules", 2), &dup), Status::kSuccess);

    auto c = Capture::make();
    EXPECT_EQ(s->complete(c->call()), Status::kInvalidParameter); // nothing added yet
    EXPECT_EQ(s->add(std::span(data_).first(1001), c->call()), Status::kInvalidParameter); // past the declared length
    EXPECT_EQ(s->add({}, c->call()), Status::kInvalidParameter);
    EXPECT_EQ(c->begun(), 0u);

    // One operation at a time: while an add waits for the (busy) worker, others are refused; a
    // cancel before its work began rolls it back and never reads the buffer.
    hold_worker();
    int key = 0;
    ASSERT_EQ(s->add(std::span(data_).first(600), c->call(&key)), Status::kPending);
    EXPECT_EQ(s->add(std::span(data_).first(10), c->call()), Status::kInvalidParameter);
    EXPECT_EQ(s->complete(c->call()), Status::kInvalidParameter);
    int other = 0;
    EXPECT_FALSE(s->cancel(&other));
    EXPECT_TRUE(s->cancel(&key));
    EXPECT_EQ(c->count(), 1u);
    EXPECT_EQ(c->result().status, Status::kAborted);
    EXPECT_EQ(s->bytes_added(), 0u);
    // A cancelled complete() does not complete.
    ASSERT_EQ(s->add(std::span(data_).first(600), c->call()), Status::kPending);
    release_worker();
    EXPECT_EQ(c->result(1).status, Status::kSuccess);
    hold_worker();
    EXPECT_EQ(s->complete(c->call(&key)), Status::kInvalidParameter); // 600 of 1000 bytes
    ASSERT_EQ(s->add(std::span(data_).subspan(600, 400), c->call()), Status::kPending);
    release_worker();
    EXPECT_EQ(c->result(2).status, Status::kSuccess);
    hold_worker();
    ASSERT_EQ(s->complete(c->call(&key)), Status::kPending);
    EXPECT_EQ(p->cancel(1, id("rules"), &key), Status::kSuccess); // ServerCancelAsyncOperation
    EXPECT_EQ(c->result(3).status, Status::kAborted);
    EXPECT_EQ(p->cancel(1, id("rules"), &key), Status::kOperationNotFound);
    release_worker();
    std::vector<std::uint8_t> ci;
    EXPECT_EQ(p->content_information("u", id("rules"), 0, 0, pccrc::Version::kV1, nullptr, &ci), Status::kNotFound);
    ASSERT_EQ(s->complete(c->call()), Status::kPending);
    EXPECT_EQ(c->result(4).status, Status::kSuccess);
    EXPECT_EQ(p->content_information("u", id("rules"), 0, 0, pccrc::Version::kV1, nullptr, &ci), Status::kSuccess);
    EXPECT_EQ(ci, pccrc::generate_bytes(pccrc::Version::kV1, std::span(data_).first(1000), secret()).value());
    EXPECT_EQ(c->count(), 5u);
}

TEST_F(PublicationTest, UnpublishAndCloseAbortPendingWorkOnce)
{
    auto p = publisher(1);
    std::shared_ptr<PublishStream> a, b;
    ASSERT_EQ(p->publish(*runtime_, secret(), request("u", "a", 7), &a), Status::kSuccess);
    ASSERT_EQ(p->publish(*runtime_, secret(), request("u", "b", 7), &b), Status::kSuccess);
    EXPECT_EQ(p->unpublish("u", id("a"), 8), Status::kNotFound); // not the owner
    EXPECT_EQ(p->unpublish("u", id("zzz"), 7), Status::kNotFound);

    hold_worker();
    auto ca = Capture::make(), cb = Capture::make();
    ASSERT_EQ(a->add(data_, ca->call()), Status::kPending);
    ASSERT_EQ(b->add(data_, cb->call()), Status::kPending);
    EXPECT_EQ(p->unpublish("u", id("a"), 7), Status::kSuccess);
    EXPECT_EQ(ca->count(), 1u);
    EXPECT_EQ(ca->result().status, Status::kAborted);
    b->close();
    EXPECT_EQ(cb->count(), 1u);
    EXPECT_EQ(cb->result().status, Status::kAborted);
    EXPECT_EQ(b->add(data_, cb->call()), Status::kClosed);
    EXPECT_EQ(b->complete(cb->call()), Status::kClosed);
    release_worker();
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(ca->count(), 1u);
    EXPECT_EQ(cb->count(), 1u);
    EXPECT_EQ(p->size(), 1u); // "b" stays published although its stream was closed
    EXPECT_EQ(p->unpublish("u", id("a"), 7), Status::kNotFound);
    std::shared_ptr<PublishStream> again;
    EXPECT_EQ(p->publish(*runtime_, secret(), request("u", "a", 7), &again), Status::kSuccess);
}

TEST_F(PublicationTest, RemoveOwnerClosesItsStreamsAndPublications)
{
    auto reg = registry();
    auto p = publisher(1);
    std::shared_ptr<PublishStream> mine, theirs, done;
    ASSERT_EQ(p->publish(*runtime_, secret(), request("u", "mine", 1, 0, reg), &mine), Status::kSuccess);
    ASSERT_EQ(p->publish(*runtime_, secret(), request("u", "done", 1, 0, reg), &done), Status::kSuccess);
    ASSERT_EQ(p->publish(*runtime_, secret(), request("u", "theirs", 2, 0, reg), &theirs), Status::kSuccess);
    stream_all(*done, data_, 65536);
    hold_worker();
    auto c = Capture::make(), t = Capture::make();
    ASSERT_EQ(mine->add(data_, c->call()), Status::kPending);
    ASSERT_EQ(theirs->add(data_, t->call()), Status::kPending);
    p->remove_owner(1, reg);
    EXPECT_EQ(c->count(), 1u);
    EXPECT_EQ(c->result().status, Status::kAborted);
    EXPECT_EQ(mine->add(data_, c->call()), Status::kClosed);
    EXPECT_EQ(p->size(), 1u);
    EXPECT_FALSE(reg->find("u", id("mine")));
    EXPECT_FALSE(reg->find("u", id("done")));
    EXPECT_TRUE(reg->find("u", id("theirs")));
    release_worker();
    EXPECT_EQ(t->result().status, Status::kSuccess); // the other owner's work goes on
    std::vector<std::uint8_t> ci;
    EXPECT_EQ(p->content_information("u", id("done"), 0, 0, pccrc::Version::kV1, reg, &ci), Status::kNotFound);
}

TEST_F(PublicationTest, AnotherProcessFindsThePublicationThroughTheRegistry)
{
    std::atomic<bool> first_alive{true};
    auto alive = [&](const pd::cache::Owner& o) { return o.pid != 1 || first_alive.load(); };
    auto reg1 = registry(alive), reg2 = registry(alive);
    auto p1 = publisher(1), p2 = publisher(2);
    std::shared_ptr<PublishStream> s, s2;
    ASSERT_EQ(p1->publish(*runtime_, secret(), request("u", "shared", 5, 0, reg1), &s), Status::kSuccess);
    // The same user and identifier in another process: taken while the first one lives.
    EXPECT_EQ(p2->publish(*runtime_, secret(), request("u", "shared", 9, 0, reg2), &s2), Status::kAlreadyExists);
    std::vector<std::uint8_t> ci;
    EXPECT_EQ(p2->content_information("u", id("shared"), 0, 0, pccrc::Version::kV2, reg2, &ci), Status::kNotFound);
    stream_all(*s, data_, 50000);
    for (auto v : {pccrc::Version::kV1, pccrc::Version::kV2}) {
        ASSERT_EQ(p2->content_information("u", id("shared"), 0, 0, v, reg2, &ci), Status::kSuccess);
        EXPECT_EQ(ci, pccrc::generate_bytes(v, data_, secret()).value());
    }
    ASSERT_EQ(p2->content_information("u", id("shared"), 1000, 2000, pccrc::Version::kV1, reg2, &ci), Status::kSuccess);
    pccrc::GeneratorOptions ranged;
    ranged.range = pccrc::RangeRequest{1000, 2000};
    EXPECT_EQ(ci, pccrc::generate_bytes(pccrc::Version::kV1, data_, secret(), ranged).value());
    // Once the first process is gone its publication counts as absent.
    first_alive = false;
    EXPECT_EQ(p2->publish(*runtime_, secret(), request("u", "shared", 9, 0, reg2), &s2), Status::kSuccess);
}

TEST_F(PublicationTest, ContentInfoReaderReturnsThePiecesInOrder)
{
    auto bytes = random_bytes(1000, 4);
    ContentInfoReader r(bytes);
    auto c = Capture::make();
    std::vector<std::uint8_t> got, buf(300);
    while (true) {
        Status st = r.retrieve(buf, c->call());
        if (st == Status::kNoMore)
            break;
        ASSERT_EQ(st, Status::kPending);
        Result res = c->result(c->count() - 1);
        EXPECT_EQ(res.offset, got.size());
        got.insert(got.end(), buf.begin(), buf.begin() + res.bytes);
    }
    EXPECT_EQ(got, bytes);
    EXPECT_EQ(c->count(), 4u);
    EXPECT_EQ(r.retrieve({}, c->call()), Status::kInvalidParameter);
}

TEST_F(PublicationTest, ManyThreadsPublishAtOnce)
{
    runtime_ = std::make_unique<pd::Runtime>(1, 3);
    auto reg = registry();
    auto p = publisher(1);
    constexpr int kThreads = 4, kEach = 3;
    std::vector<std::thread> threads;
    std::vector<std::vector<std::uint8_t>> contents(kThreads * kEach);
    for (int i = 0; i < kThreads * kEach; ++i)
        contents[i] = random_bytes(40000 + 9000 * i, 300 + i);
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int k = 0; k < kEach; ++k) {
                int i = t * kEach + k;
                std::shared_ptr<PublishStream> s;
                ASSERT_EQ(p->publish(*runtime_, secret(), request("u", "c" + std::to_string(i), 1 + t % 2, 0, reg), &s),
                          Status::kSuccess);
                stream_all(*s, contents[i], 7000 + 1000 * t);
                // Cancels of operations that finished find nothing.
                int key = 0;
                EXPECT_EQ(p->cancel(1 + t % 2, id("c" + std::to_string(i)), &key), Status::kOperationNotFound);
            }
        });
    for (auto& t : threads)
        t.join();
    for (int i = 0; i < kThreads * kEach; ++i) {
        std::vector<std::uint8_t> ci;
        ASSERT_EQ(p->content_information("u", id("c" + std::to_string(i)), 0, 0, pccrc::Version::kV1, reg, &ci),
                  Status::kSuccess);
        EXPECT_EQ(ci, pccrc::generate_bytes(pccrc::Version::kV1, contents[i], secret()).value()) << i;
    }
    p->remove_owner(1, reg);
    p->remove_owner(2, reg);
    EXPECT_EQ(p->size(), 0u);
}

} // namespace
