// Test groups for the [MS-PPSEC] connection security tests: real keys and certificates from
// pd::p2p::pki (GRC, GMCs, IDCs; nothing of the crypto is mocked) and a Credentials implementation
// on them, as the group (src/p2p Group) will provide it.
#pragma once
#include "pd/p2p/pki.hpp"
#include "pd/transport/group_security.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace pd::test {

namespace pki = pd::p2p::pki;
using pd::p2p::Ticks;
using pd::p2p::kTicksPerSecond;

inline Ticks utc_now()
{
    using namespace std::chrono;
    return pd::p2p::kUnixEpochTicks + duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() / 100;
}

inline void check(pd::p2p::Hr h, const char* what)
{
    if (h != pd::p2p::hr::ok)
        throw std::runtime_error(std::string(what) + " failed: " + std::to_string(h));
}

// An identity: key, peer name "<authority>.<classifier>", IDC.
struct TestIdentity {
    pki::Key key;
    std::u16string peer_name;
    pd::p2p::Bytes idc;
    pd::p2p::Bytes spki;

    explicit TestIdentity(const std::u16string& classifier)
    {
        check(pki::Key::generate(key), "key");
        peer_name = pki::authority(key) + u"." + classifier;
        const Ticks now = utc_now();
        check(pki::make_idc(key, peer_name, classifier, now - 3600 * kTicksPerSecond, now + 86400 * 365 * kTicksPerSecond,
                            u"", idc),
              "make_idc");
        spki = key.spki_der();
    }
};

// A group: its key, GRC and peer name.
struct TestGroup {
    pki::Key key;
    std::u16string peer_name;
    pd::p2p::Bytes grc;
    std::string password_hash;  // the Security Properties' Password Hash String ("" = no passwords)

    explicit TestGroup(const std::u16string& classifier = u"group", std::u16string password = u"")
    {
        check(pki::Key::generate(key), "group key");
        peer_name = pki::authority(key) + u"." + classifier;
        const Ticks now = utc_now();
        check(pki::make_grc(key, peer_name, classifier, now - 7200 * kTicksPerSecond,
                            now + 86400 * 365 * kTicksPerSecond, 0, grc),
              "make_grc");
        if (!password.empty())
            password_hash = pd::transport::ppsec::password_hash_string(password);
    }

    // A chain (PKCS#7: GRC + GMC) for `who` with `roles`, valid [from, to] (defaults: now-1h .. +30d).
    pd::p2p::Bytes issue(const TestIdentity& who, std::vector<pd::p2p::Guid> roles, Ticks from = 0, Ticks to = 0) const
    {
        pki::GmcRequest r;
        r.subject_spki = who.spki;
        r.subject_peer_name = who.peer_name;
        r.subject_friendly_name = u"member";
        r.classifiers = pki::classifiers_for_roles(roles);
        r.roles = std::move(roles);
        const Ticks now = utc_now();
        r.not_before = from ? from : now - 3600 * kTicksPerSecond;
        r.not_after = to ? to : now + 30 * 86400 * kTicksPerSecond;
        pd::p2p::Bytes gmc;
        check(pki::make_gmc(key, grc, r, gmc), "make_gmc");
        return pki::pkcs7_certs({grc, gmc});
    }
};

// The Credentials of one node of a TestGroup.
class TestCredentials : public pd::transport::security::Credentials {
public:
    TestCredentials(const TestGroup& group, const TestIdentity& id, pd::p2p::Bytes chain = {})
        : group_(group), id_(id), chain_(std::move(chain))
    {
    }

    const pd::p2p::Bytes& idc() const override { return id_.idc; }
    const pki::Key& idc_key() const override { return id_.key; }
    std::u16string group_peer_name() const override { return group_.peer_name; }
    pd::p2p::Bytes local_gmc_chain() const override { return chain_; }
    std::optional<std::string> password_hash_string() const override
    {
        if (group_.password_hash.empty() || !may_issue)
            return std::nullopt;
        return group_.password_hash;
    }
    std::optional<std::u16string> password() const override { return typed_password; }
    std::optional<std::u16string> verify_member(const std::vector<pki::CertInfo>& chain,
                                                pd::transport::security::ByteSpan spki) override
    {
        ++verified;
        if (refuse_members)
            return std::nullopt;
        return Credentials::verify_member(chain, spki);
    }
    std::optional<std::u16string> find_member(pd::transport::security::ByteSpan spki) override
    {
        for (const auto& [k, name] : member_list)
            if (pd::p2p::Bytes(spki.begin(), spki.end()) == k)
                return name;
        return std::nullopt;
    }
    // 3.3.5.2.5: the local chain + a Member GMC for the remote IDC, signed with the group key (the
    // test's Administrator holds a GMC issued by the GRC; issuing from the GRC keeps the test short
    // and the chain valid: GRC -> new GMC).
    pd::p2p::Bytes issue_for_password(const pki::CertInfo& remote) override
    {
        pki::GmcRequest r;
        r.subject_spki = remote.spki;
        r.subject_peer_name = remote.subject_peer_name;
        r.subject_friendly_name = remote.subject_name;
        r.roles = {pki::kRoleMember};
        r.classifiers = pki::classifiers_for_roles(r.roles);
        r.not_before = utc_now() - 60 * kTicksPerSecond;
        r.not_after = utc_now() + 30 * 86400 * kTicksPerSecond;
        pd::p2p::Bytes gmc;
        if (pki::make_gmc(issue_key ? *issue_key : group_.key, issue_key ? *issue_cert : group_.grc, r, gmc) !=
            pd::p2p::hr::ok)
            return {};
        ++issued;
        return pki::pkcs7_certs({group_.grc, gmc});
    }
    bool accept_issued_gmc(pd::transport::security::ByteSpan chain) override
    {
        chain_.assign(chain.begin(), chain.end());
        return true;
    }
    Ticks now() const override { return clock ? clock : Credentials::now(); }

    std::optional<std::u16string> typed_password;
    bool may_issue = true;
    bool refuse_members = false;
    std::vector<std::pair<pd::p2p::Bytes, std::u16string>> member_list;
    const pki::Key* issue_key = nullptr;  // issue with another key / cert (a forged issuer)
    const pd::p2p::Bytes* issue_cert = nullptr;
    Ticks clock = 0;
    int verified = 0, issued = 0;

private:
    const TestGroup& group_;
    const TestIdentity& id_;
    pd::p2p::Bytes chain_;
};

}  // namespace pd::test
