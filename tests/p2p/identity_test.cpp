// Native tests of the identity manager engine (pd::p2p identity.hpp) over a real user store:
// peer names from keys, persistence, sealed private keys, XML, export/import, CryptoAPI blobs.
#include "pd/p2p/identity.hpp"
#include "pd/p2p/pki.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace fs = std::filesystem;
using namespace pd::p2p;

namespace {

class IdentityTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() / ("p2p-identity-test-" + std::to_string(std::random_device{}()));
        fs::create_directories(dir_);
        ASSERT_EQ(UserStore::open(dir_.string(), store_), hr::ok);
    }
    void TearDown() override
    {
        store_.reset();
        fs::remove_all(dir_);
    }
    Bytes file_bytes(const fs::path& p)
    {
        std::ifstream in(p, std::ios::binary);
        return Bytes(std::istreambuf_iterator<char>(in), {});
    }
    fs::path dir_;
    std::shared_ptr<UserStore> store_;
};

TEST_F(IdentityTest, NameIsAuthorityOfTheKeyAndPersists)
{
    std::u16string name;
    ASSERT_EQ(create_identity(*store_, u"cls", u"Friendly", nullptr, name), hr::ok);
    IdentityKeys keys;
    ASSERT_EQ(load_identity(*store_, name, keys), hr::ok);
    pki::Key key;
    ASSERT_EQ(pki::Key::from_pkcs8_der(keys.private_pkcs8, key), hr::ok);
    EXPECT_EQ(name, pki::authority(key) + u".cls");
    EXPECT_EQ(keys.row.friendly_name, u"Friendly");
    pki::CertInfo ci;
    ASSERT_EQ(pki::parse_cert(keys.row.cert, ci), hr::ok);
    EXPECT_EQ(ci.type, pki::kCertIdc);
    EXPECT_EQ(ci.subject_peer_name, name);
    EXPECT_TRUE(pki::verify_cert_signature(keys.row.cert, ci.spki));

    // Another store object on the same directory (another process) sees it.
    std::shared_ptr<UserStore> again;
    ASSERT_EQ(UserStore::open(dir_.string(), again), hr::ok);
    IdentityRow row;
    EXPECT_EQ(again->get_identity(name, row), hr::ok);
}

TEST_F(IdentityTest, PrivateKeyIsNeverStoredInClear)
{
    std::u16string name;
    ASSERT_EQ(create_identity(*store_, u"secret", u"", nullptr, name), hr::ok);
    IdentityKeys keys;
    ASSERT_EQ(load_identity(*store_, name, keys), hr::ok);
    // The end of the PKCS#8 DER is the CRT coefficient (private: unlike the modulus, it is not
    // in the certificate). No file of the store may contain it.
    Bytes needle(keys.private_pkcs8.end() - 32, keys.private_pkcs8.end());
    for (auto& f : fs::recursive_directory_iterator(dir_)) {
        if (!f.is_regular_file() || f.path().filename() == ".keyfile")
            continue;
        Bytes hay = file_bytes(f.path());
        EXPECT_EQ(std::search(hay.begin(), hay.end(), needle.begin(), needle.end()), hay.end()) << f.path();
    }
}

TEST_F(IdentityTest, SameKeyAndClassifierExistsAlready)
{
    pki::Key key;
    ASSERT_EQ(pki::Key::generate(key), hr::ok);
    Bytes pkcs8 = key.private_pkcs8_der();
    std::u16string a, b, c;
    ASSERT_EQ(create_identity(*store_, u"x", u"", &pkcs8, a), hr::ok);
    EXPECT_EQ(create_identity(*store_, u"x", u"", &pkcs8, b), hr::already_exists);
    ASSERT_EQ(create_identity(*store_, u"y", u"", &pkcs8, c), hr::ok);
    EXPECT_EQ(a.substr(0, 40), c.substr(0, 40));
    EXPECT_EQ(create_identity(*store_, std::u16string(150, u'a'), u"", nullptr, b), hr::invalid_arg);
}

TEST_F(IdentityTest, XmlExportImportAndCapiBlob)
{
    std::u16string name, xml, exported, imported, parsed_name;
    ASSERT_EQ(create_identity(*store_, u"exp", u"Exp", nullptr, name), hr::ok);
    ASSERT_EQ(identity_xml(*store_, name, xml), hr::ok);
    Bytes idc;
    ASSERT_EQ(parse_identity_xml(xml, idc, parsed_name), hr::ok);
    EXPECT_EQ(parsed_name, name);
    ASSERT_EQ(export_identity(*store_, name, u"pw", exported), hr::ok);
    EXPECT_EQ(import_identity(*store_, exported, u"pw", imported), hr::already_exists);

    fs::path other = dir_ / "other";
    fs::create_directories(other);
    std::shared_ptr<UserStore> store2;
    ASSERT_EQ(UserStore::open(other.string(), store2), hr::ok);
    EXPECT_EQ(import_identity(*store2, exported, u"wrong", imported), hr::invalid_arg);
    ASSERT_EQ(import_identity(*store2, exported, u"pw", imported), hr::ok);
    EXPECT_EQ(imported, name);
    std::u16string xml2;
    ASSERT_EQ(identity_xml(*store2, imported, xml2), hr::ok);
    EXPECT_EQ(xml2, xml);  // the same IDC, byte for byte

    Bytes blob, pkcs8;
    ASSERT_EQ(identity_capi_blob(*store_, name, blob), hr::ok);
    ASSERT_EQ(pkcs8_from_capi_blob(blob, pkcs8), hr::ok);
    pki::Key key;
    ASSERT_EQ(pki::Key::from_pkcs8_der(pkcs8, key), hr::ok);
    EXPECT_EQ(pki::authority(key) + u".exp", name);
}

TEST_F(IdentityTest, DefaultPeerNamesAndDelete)
{
    std::u16string d1, d2, name, pn;
    ASSERT_EQ(default_identity(*store_, d1), hr::ok);
    ASSERT_EQ(default_identity(*store_, d2), hr::ok);
    EXPECT_EQ(d1, d2);
    EXPECT_EQ(d1.substr(40), u".default");
    ASSERT_EQ(create_peer_name(store_.get(), d1, u"svc", pn), hr::ok);
    EXPECT_EQ(pn, d1.substr(0, 40) + u".svc");
    ASSERT_EQ(create_peer_name(store_.get(), u"", u"open", pn), hr::ok);
    EXPECT_EQ(pn, u"0.open");
    ASSERT_EQ(create_peer_name(store_.get(), d1, u"", pn), hr::ok);
    EXPECT_EQ(pn, d1);
    ASSERT_EQ(create_identity(*store_, u"gone", u"", nullptr, name), hr::ok);
    ASSERT_EQ(store_->add_group({name, u"0123.g", u"G", (dir_ / "g.db").string()}, false), hr::ok);
    EXPECT_EQ(delete_identity(*store_, name), hr::groups_exist);
    ASSERT_EQ(store_->delete_group(name, u"0123.g"), hr::ok);
    EXPECT_EQ(delete_identity(*store_, name), hr::ok);
    EXPECT_EQ(delete_identity(*store_, name), hr::not_found);
}

}  // namespace
