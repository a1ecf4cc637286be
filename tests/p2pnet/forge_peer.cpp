// forge_peer: a group member that turns hostile, for the multi-host test (tests/net/groups.sh). It
// joins a group with a real invitation, connects and synchronises like any member, adds one honest
// record, then writes forged records straight into its own database (Group::apply_remote skips
// every check) so that its graph node floods them to its neighbours:
//   1  a record of its own whose payload was changed after signing (broken signature);
//   2  the creator's record modified by this Member (a valid signature, but only the creator or an
//      Admin may modify a record: [MS-PPSEC] 3.1.7.2);
//   3  a new record that claims the creator as its creator, signed with this member's key.
// Writes the three record IDs (32 hex digits of the GUID's memory layout, one per line; for 2 the
// creator's record) so that the honest members can check that none of them was stored.
//
//   forge_peer identity STORE_DIR OUT_XML OUT_NAME
//   forge_peer forge STORE_DIR NAME_FILE INVITATION_FILE ADDRESS:PORT OUT_IDS SECONDS
#include "pd/p2pnet/group_network.hpp"

#include "pd/p2p/group.hpp"
#include "pd/p2p/identity.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/record_id.hpp"
#include "pd/p2p/user_store.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

using namespace pd::p2p;
using boost::asio::ip::tcp;

namespace {

const Guid kChatType = [] {
    // {4d5a0b1c-1111-4c2b-9d11-6e3f20317a01} in memory layout (tests/net/group_peer.c kChatType).
    Guid g;
    const std::uint8_t b[16] = {0x1c, 0x0b, 0x5a, 0x4d, 0x11, 0x11, 0x2b, 0x4c,
                                0x9d, 0x11, 0x6e, 0x3f, 0x20, 0x31, 0x7a, 0x01};
    std::copy(b, b + 16, g.b.begin());
    return g;
}();

std::string read_utf8(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
std::u16string to_u16(const std::string& s)
{
    std::u16string out;
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp;
        int n;
        if (c < 0x80) { cp = c; n = 1; }
        else if ((c >> 5) == 6) { cp = c & 0x1f; n = 2; }
        else if ((c >> 4) == 14) { cp = c & 0x0f; n = 3; }
        else { cp = c & 0x07; n = 4; }
        for (int k = 1; k < n && i + k < s.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
        i += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
            out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
        } else {
            out.push_back(static_cast<char16_t>(cp));
        }
    }
    return out;
}
std::string hex(const Guid& g) { return to_hex(g.b); }
Ticks now_ticks()
{
    auto t = std::chrono::system_clock::now().time_since_epoch();
    return kUnixEpochTicks + std::chrono::duration_cast<std::chrono::nanoseconds>(t).count() / 100;
}
int fail(const std::string& why)
{
    std::cerr << "forge_peer: " << why << "\n";
    return 1;
}

int identity(const std::string& dir, const std::string& out_xml, const std::string& out_name)
{
    std::shared_ptr<UserStore> store;
    std::u16string name, xml;
    if (failed(UserStore::open(dir, store)) || failed(create_identity(*store, u"forger", u"Forger", nullptr, name)) ||
        failed(identity_xml(*store, name, xml)))
        return fail("cannot make an identity");
    std::ofstream(out_xml, std::ios::binary) << utf8(xml);
    std::ofstream(out_name, std::ios::binary) << utf8(name);
    return 0;
}

int forge(const std::string& dir, const std::string& name_file, const std::string& inv_file, const std::string& address,
          const std::string& out_ids, int seconds)
{
    std::shared_ptr<UserStore> store;
    std::shared_ptr<Group> g;
    if (failed(UserStore::open(dir, store)))
        return fail("no store");
    const std::u16string me = to_u16(read_utf8(name_file));
    if (Hr h = Group::join(store, me, to_u16(read_utf8(inv_file)), g); failed(h))
        return fail("join failed");
    tcp::endpoint ep;
    if (!pd::p2pnet::parse_endpoint(address, ep))
        return fail("bad address " + address);
    auto net = pd::p2pnet::GroupNetwork::of(g);
    net->connect({ep});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    // Synchronised, with the creator's "chain A" record (the victim of forgery 2).
    Record victim;
    bool found = false;
    while (!found && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::vector<Record> recs;
        if (!g->ready() || failed(g->enum_records(&kChatType, recs)))
            continue;
        for (auto& r : recs)
            if (std::string(r.data.begin(), r.data.end()) == "chain A") {
                victim = r;
                found = true;
            }
    }
    if (!found)
        return fail("never synchronised with the creator's record");
    std::cout << "forge: synchronised" << std::endl;

    // The honest record: it must reach the others (the link works).
    Record honest;
    honest.type = kChatType;
    honest.expires = now_ticks() + 3600LL * kTicksPerSecond;
    std::string text = "forge honest";
    honest.data.assign(text.begin(), text.end());
    if (failed(g->add_record(honest)))
        return fail("cannot add the honest record");

    // This member's key, GMC serial and the group's signature version.
    Bytes key_der, idc, chain_p7;
    if (failed(g->credentials(key_der, idc, chain_p7)))
        return fail("no credentials");
    pki::Key key;
    std::vector<Bytes> certs;
    std::vector<pki::CertInfo> ordered;
    if (failed(pki::Key::from_pkcs8_der(key_der, key)) || failed(pki::parse_pkcs7_certs(chain_p7, certs)) ||
        failed(pki::verify_gmc_chain(certs, 0, ordered)))
        return fail("bad credentials");
    const Bytes serial = ordered.back().serial;
    GroupProperties props;
    g->properties(props);
    const auto version = (props.auth_schemes & 2) ? pki::GroupSecurity::v1_1 : pki::GroupSecurity::v1_0;
    Ticks pt = 0;
    g->to_peer_time(now_ticks(), pt);

    auto plant = [&](Record r) {
        bool changed = false;
        return succeeded(g->apply_remote(r, changed)) && changed;
    };
    // 1: broken signature.
    Record r1;
    r1.type = kChatType;
    r1.id = new_record_id(me);
    r1.version = 1;
    r1.creator = me;
    r1.created = r1.modified = pt;
    r1.expires = pt + 3600LL * kTicksPerSecond;
    text = "forged: signed, then changed";
    r1.data.assign(text.begin(), text.end());
    if (failed(pki::record_security(r1, serial, serial, key, version, r1.security)))
        return fail("cannot sign");
    r1.data[0] ^= 0x20;
    // 2: the creator's record modified by a Member.
    Record r2 = victim;
    pki::RecordSecurity vs;
    pki::parse_record_security(victim.security, vs);
    r2.version = victim.version + 1;
    r2.modified_by = me;
    r2.modified = pt;
    text = "forged: modified by a member";
    r2.data.assign(text.begin(), text.end());
    r2.security.clear();
    if (failed(pki::record_security(r2, vs.creator_serial, serial, key, version, r2.security)))
        return fail("cannot sign");
    // 3: a record claiming the creator as its creator.
    Record r3 = r1;
    r3.id = new_record_id(victim.creator);
    r3.creator = victim.creator;
    text = "forged: impostor";
    r3.data.assign(text.begin(), text.end());
    r3.security.clear();
    if (failed(pki::record_security(r3, serial, serial, key, version, r3.security)))
        return fail("cannot sign");
    if (!plant(r1) || !plant(r2) || !plant(r3))
        return fail("cannot plant the forged records in the local database");
    {
        std::ofstream ids(out_ids, std::ios::binary);
        ids << hex(r1.id) << "\n" << hex(r2.id) << "\n" << hex(r3.id) << "\n";
    }
    std::cout << "forge: planted 3 forged records" << std::endl;
    // Online until the end: the forged records are flooded now and offered at every sync.
    while (std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    net->stop();
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc == 5 && std::string(argv[1]) == "identity")
        return identity(argv[2], argv[3], argv[4]);
    if (argc == 8 && std::string(argv[1]) == "forge")
        return forge(argv[2], argv[3], argv[4], argv[5], argv[6], std::atoi(argv[7]));
    return fail("usage: see the comment at the top of forge_peer.cpp");
}
