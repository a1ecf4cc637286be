// Grouping exports for group lifetime, properties, members, time, invitations and configuration.
// Records are in records.cpp, events in events.cpp. Thin shims over pd::p2p::Group.
#include "group.h"
#include "memory.h"

#include "pd/p2p/identity.hpp"

#include <atomic>

using namespace pd::p2pdll;
namespace p2p = pd::p2p;

namespace pd::p2pdll {

namespace {
std::mutex g_startup_mutex;
long g_startups = 0;
// The Startup period (see group_epoch in memory.h): + 1 at each final Shutdown, so handles made
// before it never work again, also after the next Startup.
std::uint64_t g_epoch = 1;
} // namespace

std::uint64_t group_epoch()
{
    std::lock_guard lock(g_startup_mutex);
    return g_epoch;
}

bool group_started()
{
    std::lock_guard lock(g_startup_mutex);
    return g_startups > 0;
}

HRESULT group_service_checks(std::uint64_t* epoch)
{
    if (peernet_disabled())
        return PEER_E_CANNOT_START_SERVICE;
    std::lock_guard lock(g_startup_mutex);
    if (g_startups <= 0)
        return PEER_E_NOT_INITIALIZED;
    if (epoch)
        *epoch = g_epoch;
    return S_OK;
}

HRESULT lookup_group(HGROUP h, HRESULT invalid, std::shared_ptr<GroupHandle>& out)
{
    std::uint64_t epoch = 0;
    if (HRESULT c = group_service_checks(&epoch); FAILED(c))
        return c;
    out = handles().lookup<GroupHandle>(handle_value(h), kGroup);
    if (out && out->epoch != epoch)
        out.reset();
    return out ? S_OK : invalid;
}

} // namespace pd::p2pdll

namespace {

HRESULT new_handle(std::shared_ptr<p2p::Group> group, std::uint64_t epoch, HGROUP* out)
{
    auto g = std::make_shared<GroupHandle>();
    g->group = std::move(group);
    g->epoch = epoch;
    std::uint64_t v = handles().insert(kGroup, g);
    if (!v)
        return E_OUTOFMEMORY;
    *out = to_handle(v);
    return S_OK;
}

std::u16string opt(PCWSTR s) { return s ? std::u16string(u16(s)) : std::u16string(); }

// PEER_GROUP_PROPERTIES -> engine. Vista fields are read only when dwSize covers them.
bool read_properties(const PEER_GROUP_PROPERTIES* in, p2p::GroupProperties& out)
{
    if (in->dwSize < offsetof(PEER_GROUP_PROPERTIES, dwAuthenticationSchemes))
        return false;
    out.flags = in->dwFlags;
    out.cloud = opt(in->pwzCloud);
    out.classifier = opt(in->pwzClassifier);
    out.group_peer_name = opt(in->pwzGroupPeerName);
    out.creator_peer_name = opt(in->pwzCreatorPeerName);
    out.friendly_name = opt(in->pwzFriendlyName);
    out.comment = opt(in->pwzComment);
    out.member_data_lifetime = in->ulMemberDataLifetime;
    out.presence_lifetime = in->ulPresenceLifetime;
    if (in->dwSize >= sizeof(PEER_GROUP_PROPERTIES)) {
        out.auth_schemes = in->dwAuthenticationSchemes;
        out.password = opt(in->pwzGroupPassword);
        out.password_role = to_guid(in->groupPasswordRole);
    }
    return true;
}

// Bounds every string of the caller's structure before the engine sees it.
bool properties_strings_bounded(const PEER_GROUP_PROPERTIES* p)
{
    const PCWSTR fields[] = {p->pwzCloud, p->pwzClassifier, p->pwzGroupPeerName, p->pwzCreatorPeerName,
                             p->pwzFriendlyName, p->pwzComment};
    for (PCWSTR s : fields)
        if (s && bounded_len(s, 4096) > 4096)
            return false;
    return true;
}

size_t write_spki(FlatBuilder& b, const p2p::Bytes& spki);

} // namespace

extern "C" {

HRESULT WINAPI PeerGroupStartup(WORD wVersionRequested, PPEER_VERSION_DATA pVersionData)
{
    return guarded("PeerGroupStartup", [&]() -> HRESULT {
        if (!pVersionData)
            return E_INVALIDARG;
        if (peernet_disabled())
            return HRESULT_FROM_WIN32(ERROR_SERVICE_DEPENDENCY_FAIL);
        // Versions: low byte major, high byte minor. 1.0 and 1.1 exist; a higher request is
        // answered with the highest we have (1.1), as WSAStartup does.
        const WORD highest = MAKEWORD(1, 1);
        BYTE major = LOBYTE(wVersionRequested), minor = HIBYTE(wVersionRequested);
        if (major < 1)
            return PEER_E_UNSUPPORTED_VERSION;
        WORD negotiated = (major > 1 || (major == 1 && minor >= 1)) ? highest : MAKEWORD(1, 0);
        {
            std::lock_guard lock(g_startup_mutex);
            ++g_startups;
        }
        pVersionData->wVersion = negotiated;
        pVersionData->wHighestVersion = highest;
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupShutdown(void)
{
    return guarded("PeerGroupShutdown", [&]() -> HRESULT {
        std::uint64_t live_epoch = 0;
        {
            std::lock_guard lock(g_startup_mutex);
            if (g_startups <= 0)
                return PEER_E_NOT_INITIALIZED;
            if (--g_startups > 0)
                return S_OK;
            // The final Shutdown ends the period: every group handle, event registration and
            // group enumeration made in it is dead from now on (lookups compare periods).
            live_epoch = ++g_epoch;
        }
        // Then release what they hold (outside the Startup lock: groups stop their watchers).
        drop_stale_handles(live_epoch);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupCreate(PPEER_GROUP_PROPERTIES pProperties, HGROUP* phGroup)
{
    return guarded("PeerGroupCreate", [&]() -> HRESULT {
        std::uint64_t epoch = 0;
        if (HRESULT h = group_service_checks(&epoch); FAILED(h))
            return h;
        if (!pProperties || !phGroup)
            return E_INVALIDARG;
        if (!properties_strings_bounded(pProperties))
            return E_INVALIDARG;
        p2p::GroupProperties props;
        if (!read_properties(pProperties, props))
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = p2p::UserStore::current(store); FAILED(h))
            return h;
        std::shared_ptr<p2p::Group> group;
        if (HRESULT h = p2p::Group::create(store, props, group); FAILED(h))
            return h;
        return new_handle(std::move(group), epoch, phGroup);
    });
}

HRESULT WINAPI PeerGroupOpen(PCWSTR pwzIdentity, PCWSTR pwzGroupPeerName, PCWSTR pwzCloud, HGROUP* phGroup)
{
    return guarded("PeerGroupOpen", [&]() -> HRESULT {
        std::uint64_t epoch = 0;
        if (HRESULT h = group_service_checks(&epoch); FAILED(h))
            return h;
        if (!pwzIdentity || !*pwzIdentity || !pwzGroupPeerName || !*pwzGroupPeerName || !phGroup)
            return E_INVALIDARG;
        (void)pwzCloud;  // offline: the cloud is only recorded in the properties
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = p2p::UserStore::current(store); FAILED(h))
            return h;
        std::shared_ptr<p2p::Group> group;
        if (HRESULT h = p2p::Group::open(store, u16(pwzIdentity), u16(pwzGroupPeerName), group); FAILED(h))
            return h;
        return new_handle(std::move(group), epoch, phGroup);
    });
}

HRESULT WINAPI PeerGroupJoin(PCWSTR pwzIdentity, PCWSTR pwzInvitation, PCWSTR pwzCloud, HGROUP* phGroup)
{
    return guarded("PeerGroupJoin", [&]() -> HRESULT {
        std::uint64_t epoch = 0;
        if (HRESULT h = group_service_checks(&epoch); FAILED(h))
            return h;
        if (!pwzIdentity || !*pwzIdentity || !pwzInvitation || !*pwzInvitation || !phGroup ||
            bounded_len(pwzIdentity, 4096) > 4096 || bounded_len(pwzInvitation, 1u << 20) > (1u << 20))
            return E_INVALIDARG;
        (void)pwzCloud;  // the invitation's cloud is used (PNRP: a later issue)
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = p2p::UserStore::current(store); FAILED(h))
            return h;
        std::shared_ptr<p2p::Group> group;
        if (HRESULT h = p2p::Group::join(store, u16(pwzIdentity), u16(pwzInvitation), group); FAILED(h))
            return h;
        return new_handle(std::move(group), epoch, phGroup);
    });
}

HRESULT WINAPI PeerGroupPasswordJoin(PCWSTR pwzIdentity, PCWSTR pwzInvitation, PCWSTR pwzPassword, PCWSTR pwzCloud,
                                     HGROUP* phGroup)
{
    return guarded("PeerGroupPasswordJoin", [&]() -> HRESULT {
        std::uint64_t epoch = 0;
        if (HRESULT h = group_service_checks(&epoch); FAILED(h))
            return h;
        if (!pwzInvitation || !*pwzInvitation || !pwzPassword || !*pwzPassword || !phGroup ||
            bounded_len(pwzInvitation, 1u << 20) > (1u << 20) || bounded_len(pwzPassword, 4096) > 4096 ||
            (pwzIdentity && bounded_len(pwzIdentity, 4096) > 4096))
            return E_INVALIDARG;
        (void)pwzCloud;  // the invitation's cloud is used (PNRP: a later issue)
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = p2p::UserStore::current(store); FAILED(h))
            return h;
        // [doc] NULL: the identity of PeerIdentityGetDefault.
        std::u16string identity;
        if (pwzIdentity && *pwzIdentity)
            identity = u16(pwzIdentity);
        else if (HRESULT h = p2p::default_identity(*store, identity); FAILED(h))
            return h;
        const std::u16string password(u16(pwzPassword));
        std::shared_ptr<p2p::Group> group;
        if (HRESULT h = p2p::Group::join(store, identity, u16(pwzInvitation), group, &password); FAILED(h))
            return h;
        return new_handle(std::move(group), epoch, phGroup);
    });
}

HRESULT WINAPI PeerGroupClose(HGROUP hGroup)
{
    return guarded("PeerGroupClose", [&]() -> HRESULT {
        // A handle of an earlier Startup period is not a live group (and stays in the table only
        // until drop_stale_handles of that Shutdown removes it).
        std::shared_ptr<GroupHandle> live;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, live); FAILED(h))
            return h;
        auto g = handles().remove<GroupHandle>(handle_value(hGroup), kGroup);
        if (!g)
            return PEER_E_INVALID_GROUP;
        drop_registrations(*g);
        release_network_if_unused(g->group);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupDelete(PCWSTR pwzIdentity, PCWSTR pwzGroupPeerName)
{
    return guarded("PeerGroupDelete", [&]() -> HRESULT {
        if (HRESULT h = group_service_checks(); FAILED(h))
            return h;
        if ((pwzIdentity && !*pwzIdentity) || !pwzGroupPeerName || !*pwzGroupPeerName)
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = p2p::UserStore::current(store); FAILED(h))
            return h;
        // NULL identity: the user's default identity ([doc] PeerGroupDelete).
        std::u16string identity;
        if (pwzIdentity)
            identity = u16(pwzIdentity);
        else if (HRESULT h = p2p::default_identity(*store, identity); FAILED(h))
            return h;
        return p2p::Group::destroy(store, identity, u16(pwzGroupPeerName));
    });
}

HRESULT WINAPI PeerGroupGetStatus(HGROUP hGroup, DWORD* pdwStatus)
{
    return guarded("PeerGroupGetStatus", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!pdwStatus)
            return E_INVALIDARG;
        std::uint32_t status = 0;
        if (HRESULT h = g->group->status(status); FAILED(h))
            return h;
        *pdwStatus = status;
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupGetProperties(HGROUP hGroup, PPEER_GROUP_PROPERTIES* ppProperties)
{
    return guarded("PeerGroupGetProperties", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!ppProperties)
            return E_INVALIDARG;
        p2p::GroupProperties p;
        if (HRESULT h = g->group->properties(p); FAILED(h))
            return h;
        FlatBuilder b;
        size_t s = b.reserve<PEER_GROUP_PROPERTIES>();
        auto* out = b.at<PEER_GROUP_PROPERTIES>(s);
        out->dwSize = sizeof(PEER_GROUP_PROPERTIES);
        out->dwFlags = p.flags;
        out->ulMemberDataLifetime = p.member_data_lifetime;
        out->ulPresenceLifetime = p.presence_lifetime;
        out->dwAuthenticationSchemes = p.auth_schemes;
        out->groupPasswordRole = from_guid(p.password_role);
        // The password itself is never handed back.
        b.link_str_or_null(s + offsetof(PEER_GROUP_PROPERTIES, pwzCloud), p.cloud);
        b.link_str(s + offsetof(PEER_GROUP_PROPERTIES, pwzClassifier), p.classifier);
        b.link_str(s + offsetof(PEER_GROUP_PROPERTIES, pwzGroupPeerName), p.group_peer_name);
        b.link_str(s + offsetof(PEER_GROUP_PROPERTIES, pwzCreatorPeerName), p.creator_peer_name);
        b.link_str(s + offsetof(PEER_GROUP_PROPERTIES, pwzFriendlyName), p.friendly_name);
        b.link_str_or_null(s + offsetof(PEER_GROUP_PROPERTIES, pwzComment), p.comment);
        void* block = b.finish();
        if (!block)
            return E_OUTOFMEMORY;
        *ppProperties = static_cast<PPEER_GROUP_PROPERTIES>(block);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupSetProperties(HGROUP hGroup, PPEER_GROUP_PROPERTIES pProperties)
{
    return guarded("PeerGroupSetProperties", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!pProperties)
            return E_INVALIDARG;
        if (!properties_strings_bounded(pProperties))
            return PEER_E_INVALID_GROUP_PROPERTIES;
        p2p::GroupProperties props;
        if (!read_properties(pProperties, props))
            return PEER_E_INVALID_GROUP_PROPERTIES;
        return g->group->set_properties(props);
    });
}

HRESULT WINAPI PeerGroupPeerTimeToUniversalTime(HGROUP hGroup, FILETIME* pftPeerTime, FILETIME* pftUniversalTime)
{
    return guarded("PeerGroupPeerTimeToUniversalTime", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, E_INVALIDARG, g); FAILED(h))
            return h;
        if (!pftPeerTime || !pftUniversalTime)
            return E_INVALIDARG;
        p2p::Ticks utc = 0;
        // In and out may be the same FILETIME (the GroupChat sample does that).
        if (HRESULT h = g->group->to_universal_time(from_filetime(*pftPeerTime), utc); FAILED(h))
            return h;
        *pftUniversalTime = to_filetime(utc);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupUniversalTimeToPeerTime(HGROUP hGroup, FILETIME* pftUniversalTime, FILETIME* pftPeerTime)
{
    return guarded("PeerGroupUniversalTimeToPeerTime", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, E_INVALIDARG, g); FAILED(h))
            return h;
        if (!pftPeerTime || !pftUniversalTime)
            return E_INVALIDARG;
        p2p::Ticks peer = 0;
        if (HRESULT h = g->group->to_peer_time(from_filetime(*pftUniversalTime), peer); FAILED(h))
            return h;
        *pftPeerTime = to_filetime(peer);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupExportDatabase(HGROUP hGroup, PCWSTR pwzFilePath)
{
    return guarded("PeerGroupExportDatabase", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, E_INVALIDARG, g); FAILED(h))
            return h;
        if (!pwzFilePath || !*pwzFilePath)
            return E_INVALIDARG;
        return g->group->export_database(p2p::utf8(u16(pwzFilePath)));
    });
}

HRESULT WINAPI PeerGroupImportDatabase(HGROUP hGroup, PCWSTR pwzFilePath)
{
    return guarded("PeerGroupImportDatabase", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!pwzFilePath || !*pwzFilePath)
            return E_INVALIDARG;
        return g->group->import_database(p2p::utf8(u16(pwzFilePath)));
    });
}

HRESULT WINAPI PeerGroupEnumMembers(HGROUP hGroup, DWORD dwFlags, PCWSTR pwzIdentity, HPEERENUM* phPeerEnum)
{
    return guarded("PeerGroupEnumMembers", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!phPeerEnum || (dwFlags & ~DWORD(PEER_MEMBER_PRESENT)))
            return E_INVALIDARG;
        std::vector<p2p::MemberInfo> members;
        const auto present = connected_members(g->group);
        if (HRESULT h = g->group->members(u16(pwzIdentity), (dwFlags & PEER_MEMBER_PRESENT) != 0, members, &present);
            FAILED(h))
            return h;
        std::vector<ItemWriter> items;
        for (auto& m : members)
            items.push_back([m](FlatBuilder& b) {
                size_t s = b.reserve<PEER_MEMBER>();
                b.at<PEER_MEMBER>(s)->dwSize = sizeof(PEER_MEMBER);
                b.at<PEER_MEMBER>(s)->dwFlags = m.present ? PEER_MEMBER_PRESENT : 0;
                b.link_str(s + offsetof(PEER_MEMBER, pwzIdentity), m.identity);
                b.link_str_or_null(s + offsetof(PEER_MEMBER, pwzAttributes), m.attributes);
                size_t c = b.reserve<PEER_CREDENTIAL_INFO>();
                b.link(s + offsetof(PEER_MEMBER, pCredentialInfo), c);
                auto* ci = b.at<PEER_CREDENTIAL_INFO>(c);
                ci->dwSize = sizeof(PEER_CREDENTIAL_INFO);
                ci->ftValidityStart = to_filetime(m.valid_from);
                ci->ftValidityEnd = to_filetime(m.valid_to);
                ci->cRoles = static_cast<ULONG>(m.roles.size());
                b.link_str(c + offsetof(PEER_CREDENTIAL_INFO, pwzFriendlyName), m.friendly_name);
                b.link_str(c + offsetof(PEER_CREDENTIAL_INFO, pwzIssuerPeerName), m.issuer_peer_name);
                b.link_str(c + offsetof(PEER_CREDENTIAL_INFO, pwzIssuerFriendlyName), m.issuer_friendly_name);
                if (!m.spki.empty())
                    b.link(c + offsetof(PEER_CREDENTIAL_INFO, pPublicKey), write_spki(b, m.spki));
                if (!m.roles.empty()) {
                    size_t r = b.reserve<GUID>(m.roles.size());
                    for (size_t i = 0; i < m.roles.size(); ++i)
                        *b.at<GUID>(r + i * sizeof(GUID)) = from_guid(m.roles[i]);
                    b.link(c + offsetof(PEER_CREDENTIAL_INFO, pRoles), r);
                }
                return s;
            });
        return make_enum(std::move(items), phPeerEnum, g->epoch);
    });
}

HRESULT WINAPI PeerGroupCreateInvitation(HGROUP hGroup, PCWSTR pwzIdentityInfo, FILETIME* pftExpiration,
                                         ULONG cRoles, const GUID* pRoles, PWSTR* ppwzInvitation)
{
    return guarded("PeerGroupCreateInvitation", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, E_INVALIDARG, g); FAILED(h))
            return h;
        if (!pwzIdentityInfo || !ppwzInvitation || (cRoles && !pRoles) || cRoles > 16)
            return E_INVALIDARG;
        std::vector<p2p::Guid> roles;
        for (ULONG i = 0; i < cRoles; ++i)
            roles.push_back(to_guid(pRoles[i]));
        p2p::Ticks exp = pftExpiration ? from_filetime(*pftExpiration) : 0;
        std::u16string xml;
        if (HRESULT h = g->group->create_invitation(u16(pwzIdentityInfo), pftExpiration ? &exp : nullptr, roles, xml);
            FAILED(h))
            return h;
        return return_string(xml, ppwzInvitation);
    });
}

HRESULT WINAPI PeerGroupCreatePasswordInvitation(HGROUP hGroup, PWSTR* ppwzInvitation)
{
    return guarded("PeerGroupCreatePasswordInvitation", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, E_INVALIDARG, g); FAILED(h))
            return h;
        if (!ppwzInvitation)
            return E_INVALIDARG;
        std::u16string xml;
        if (HRESULT h = g->group->create_password_invitation(xml); FAILED(h))
            return h;
        return return_string(xml, ppwzInvitation);
    });
}

HRESULT WINAPI PeerGroupParseInvitation(PCWSTR pwzInvitation, PPEER_INVITATION_INFO* ppInvitationInfo)
{
    return guarded("PeerGroupParseInvitation", [&]() -> HRESULT {
        if (peernet_disabled())
            return PEER_E_CANNOT_START_SERVICE;
        if (!pwzInvitation || !ppInvitationInfo)
            return E_INVALIDARG;
        p2p::InvitationInfo info;
        if (HRESULT h = p2p::parse_invitation(u16(pwzInvitation), info); FAILED(h))
            return h;
        FlatBuilder b;
        size_t s = b.reserve<PEER_INVITATION_INFO>();
        auto* o = b.at<PEER_INVITATION_INFO>(s);
        o->dwSize = sizeof(PEER_INVITATION_INFO);
        o->dwScope = info.scope;
        o->dwCloudFlags = info.cloud_flags;
        o->ftValidityStart = to_filetime(info.valid_from);
        o->ftValidityEnd = to_filetime(info.valid_to);
        o->cRoles = static_cast<ULONG>(info.roles.size());
        o->cClassifiers = static_cast<ULONG>(info.classifiers.size());
        o->authScheme = static_cast<PEER_GROUP_AUTHENTICATION_SCHEME>(info.auth_scheme);
        b.link_str_or_null(s + offsetof(PEER_INVITATION_INFO, pwzCloudName), info.cloud_name);
        b.link_str_or_null(s + offsetof(PEER_INVITATION_INFO, pwzGroupPeerName), info.group_peer_name);
        b.link_str_or_null(s + offsetof(PEER_INVITATION_INFO, pwzIssuerPeerName), info.issuer_peer_name);
        b.link_str_or_null(s + offsetof(PEER_INVITATION_INFO, pwzSubjectPeerName), info.subject_peer_name);
        b.link_str_or_null(s + offsetof(PEER_INVITATION_INFO, pwzGroupFriendlyName), info.group_friendly_name);
        b.link_str_or_null(s + offsetof(PEER_INVITATION_INFO, pwzIssuerFriendlyName), info.issuer_friendly_name);
        b.link_str_or_null(s + offsetof(PEER_INVITATION_INFO, pwzSubjectFriendlyName), info.subject_friendly_name);
        if (!info.roles.empty()) {
            size_t r = b.reserve<GUID>(info.roles.size());
            for (size_t i = 0; i < info.roles.size(); ++i)
                *b.at<GUID>(r + i * sizeof(GUID)) = from_guid(info.roles[i]);
            b.link(s + offsetof(PEER_INVITATION_INFO, pRoles), r);
        }
        if (!info.classifiers.empty()) {
            size_t arr = b.reserve<PWSTR>(info.classifiers.size());
            for (size_t i = 0; i < info.classifiers.size(); ++i)
                b.link_str(arr + i * sizeof(PWSTR), info.classifiers[i]);
            b.link(s + offsetof(PEER_INVITATION_INFO, ppwzClassifiers), arr);
        }
        if (!info.subject_spki.empty())
            b.link(s + offsetof(PEER_INVITATION_INFO, pSubjectPublicKey), write_spki(b, info.subject_spki));
        void* block = b.finish();
        if (!block)
            return E_OUTOFMEMORY;
        *ppInvitationInfo = static_cast<PPEER_INVITATION_INFO>(block);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupIssueCredentials(HGROUP hGroup, PCWSTR pwzSubjectIdentity, PEER_CREDENTIAL_INFO* pCredentialInfo,
                                         DWORD dwFlags, PWSTR* ppwzInvitation)
{
    return guarded("PeerGroupIssueCredentials", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, E_INVALIDARG, g); FAILED(h))
            return h;
        if (!pwzSubjectIdentity || !*pwzSubjectIdentity || (dwFlags & ~DWORD(PEER_GROUP_STORE_CREDENTIALS)))
            return E_INVALIDARG;
        // Without STORE_CREDENTIALS the only result is the invitation: it must be asked for.
        if (!ppwzInvitation && !(dwFlags & PEER_GROUP_STORE_CREDENTIALS))
            return E_INVALIDARG;
        p2p::MemberInfo cred;
        const p2p::MemberInfo* pcred = nullptr;
        if (pCredentialInfo) {
            if (pCredentialInfo->dwSize < sizeof(PEER_CREDENTIAL_INFO) || (pCredentialInfo->cRoles && !pCredentialInfo->pRoles))
                return E_INVALIDARG;
            cred.valid_from = from_filetime(pCredentialInfo->ftValidityStart);
            cred.valid_to = from_filetime(pCredentialInfo->ftValidityEnd);
            for (ULONG i = 0; i < pCredentialInfo->cRoles && i < 16; ++i)
                cred.roles.push_back(to_guid(pCredentialInfo->pRoles[i]));
            if (pCredentialInfo->pwzFriendlyName)
                cred.friendly_name = u16(pCredentialInfo->pwzFriendlyName);
            // The subject's public key, as DER SubjectPublicKeyInfo for the engine.
            if (!pCredentialInfo->pPublicKey)
                return E_INVALIDARG;
            DWORD len = 0;
            if (!CryptEncodeObjectEx(X509_ASN_ENCODING, X509_PUBLIC_KEY_INFO, pCredentialInfo->pPublicKey, 0, nullptr,
                                     nullptr, &len))
                return E_INVALIDARG;
            cred.spki.resize(len);
            if (!CryptEncodeObjectEx(X509_ASN_ENCODING, X509_PUBLIC_KEY_INFO, pCredentialInfo->pPublicKey, 0, nullptr,
                                     cred.spki.data(), &len))
                return E_INVALIDARG;
            cred.spki.resize(len);
            pcred = &cred;
        }
        std::u16string xml;
        if (HRESULT h = g->group->issue_credentials(u16(pwzSubjectIdentity), pcred,
                                                    (dwFlags & PEER_GROUP_STORE_CREDENTIALS) != 0, xml);
            FAILED(h))
            return h;
        if (ppwzInvitation)
            return return_string(xml, ppwzInvitation);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupExportConfig(HGROUP hGroup, PCWSTR pwzPassword, PWSTR* ppwzXML)
{
    return guarded("PeerGroupExportConfig", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, E_INVALIDARG, g); FAILED(h))
            return h;
        if (!pwzPassword || !ppwzXML)
            return E_INVALIDARG;
        std::u16string xml;
        if (HRESULT h = g->group->export_config(u16(pwzPassword), xml); FAILED(h))
            return h;
        return return_string(xml, ppwzXML);
    });
}

HRESULT WINAPI PeerGroupImportConfig(PCWSTR pwzXML, PCWSTR pwzPassword, BOOL fOverwrite, PWSTR* ppwzIdentity,
                                     PWSTR* ppwzGroup)
{
    return guarded("PeerGroupImportConfig", [&]() -> HRESULT {
        if (HRESULT h = group_service_checks(); FAILED(h))
            return h;
        if (!pwzXML || !pwzPassword || !ppwzIdentity || !ppwzGroup)
            return E_INVALIDARG;
        std::shared_ptr<p2p::UserStore> store;
        if (HRESULT h = p2p::UserStore::current(store); FAILED(h))
            return h;
        std::u16string identity, group;
        if (HRESULT h = p2p::Group::import_config(store, u16(pwzXML), u16(pwzPassword), fOverwrite != FALSE, identity, group);
            FAILED(h))
            return h;
        PWSTR id = nullptr, gr = nullptr;
        if (HRESULT h = return_string(identity, &id); FAILED(h))
            return h;
        if (HRESULT h = return_string(group, &gr); FAILED(h)) {
            PeerFreeData(id);
            return h;
        }
        *ppwzIdentity = id;
        *ppwzGroup = gr;
        return S_OK;
    });
}

} // extern "C"

namespace {

// A CERT_PUBLIC_KEY_INFO and the bytes it points to, from a DER SubjectPublicKeyInfo
// (decoded by crypt32, then copied into the block).
size_t write_spki(FlatBuilder& b, const p2p::Bytes& spki)
{
    CERT_PUBLIC_KEY_INFO* info = nullptr;
    DWORD size = 0;
    if (!CryptDecodeObjectEx(X509_ASN_ENCODING, X509_PUBLIC_KEY_INFO, spki.data(), static_cast<DWORD>(spki.size()),
                             CRYPT_DECODE_ALLOC_FLAG, nullptr, &info, &size))
        return b.reserve<CERT_PUBLIC_KEY_INFO>();  // zeroed: an undecodable key stays empty
    size_t s = b.reserve<CERT_PUBLIC_KEY_INFO>();
    const CERT_PUBLIC_KEY_INFO copy = *info;
    if (copy.Algorithm.pszObjId) {
        size_t oid = b.bytes(copy.Algorithm.pszObjId, strlen(copy.Algorithm.pszObjId) + 1);
        b.link(s + offsetof(CERT_PUBLIC_KEY_INFO, Algorithm.pszObjId), oid);
    }
    b.at<CERT_PUBLIC_KEY_INFO>(s)->Algorithm.Parameters.cbData = copy.Algorithm.Parameters.cbData;
    if (copy.Algorithm.Parameters.cbData) {
        size_t p = b.bytes(copy.Algorithm.Parameters.pbData, copy.Algorithm.Parameters.cbData);
        b.link(s + offsetof(CERT_PUBLIC_KEY_INFO, Algorithm.Parameters.pbData), p);
    }
    b.at<CERT_PUBLIC_KEY_INFO>(s)->PublicKey.cbData = copy.PublicKey.cbData;
    b.at<CERT_PUBLIC_KEY_INFO>(s)->PublicKey.cUnusedBits = copy.PublicKey.cUnusedBits;
    if (copy.PublicKey.cbData) {
        size_t k = b.bytes(copy.PublicKey.pbData, copy.PublicKey.cbData);
        b.link(s + offsetof(CERT_PUBLIC_KEY_INFO, PublicKey.pbData), k);
    }
    LocalFree(info);
    return s;
}

} // namespace
