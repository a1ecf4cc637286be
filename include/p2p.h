/*
 * p2p.h - Windows Peer-to-Peer API (Graphing, Grouping, Identity Manager,
 * Collaboration, PNRP helpers), clean-room public header.
 *
 * Written from Microsoft's public P2P API reference
 * (learn.microsoft.com/windows/win32/api/p2p/, mirrored in docs/sdk-api/p2p/)
 * and the conceptual "Peer-to-Peer" pages (docs/win32-p2psdk/). Declarations
 * are kept layout-identical to mingw-w64's <p2p.h> (checked by
 * tests/headers). It shares the include guard _P2P_H_ with the mingw-w64 and
 * Windows SDK headers, so whichever p2p.h is seen first wins and the two
 * never collide.
 *
 * Define P2P_BUILDING when compiling P2P.dll itself (exports come from a .def
 * file), so the prototypes are not marked dllimport.
 *
 * Feature switches honoured like the SDK: NO_P2P_GRAPH, NO_P2P_GROUP,
 * NO_P2P_IDENTITY, NO_P2P_PNRP, NO_P2P_COLLABORATION.
 *
 * Not declared (no public prototype exists anywhere): PeerGroupHandlePowerEvent,
 * PeerIdentityGetCert, PeerSSPAddCredentials, PeerSSPRemoveCredentials.
 */
#pragma once
#ifndef _P2P_H_
#define _P2P_H_

/* ---- Dependencies ---------------------------------------------------------
 * winsock2.h must come before windows.h. If the program already included a
 * full <windows.h>, mingw-w64 has pulled in the old winsock.h and its
 * winsock2.h would only print "#warning Please include winsock2.h before
 * windows.h" (and then work). Skip that warning for mingw-w64 only; with the
 * Windows SDK, define WIN32_LEAN_AND_MEAN or include winsock2.h first, as for
 * the SDK's own p2p.h. */
#if defined(__MINGW32__) && defined(_WINSOCKAPI_) && !defined(_WINSOCK2API_)
# undef _WINSOCKAPI_
#endif
#include <winsock2.h>
#include <ws2tcpip.h>     /* SOCKADDR_IN6 */
#include <pnrpns.h>       /* pnrpdef.h: PNRP_SCOPE, PNRP_CLOUD_ID, ... */
#include <wincrypt.h>     /* CERT_PUBLIC_KEY_INFO, HCRYPTPROV */
#include "p2p_errors.h"   /* FACILITY_P2P, PEER_E_*, PEER_S_* */

#ifndef P2P_API
# ifdef P2P_BUILDING
#  define P2P_API
# else
#  define P2P_API __declspec(dllimport)
# endif
#endif

/* Anonymous unions (C11 / MSVC extension): keep -std=c99 -pedantic quiet. */
#if defined(__C89_NAMELESS)
# define P2P_NAMELESS_ __C89_NAMELESS
#elif defined(__GNUC__)
# define P2P_NAMELESS_ __extension__
#else
# define P2P_NAMELESS_
#endif

/* Vista (NTDDI 0x06000000) added fields and functions; treat a missing
 * NTDDI_VERSION as "current Windows". */
#if !defined(NTDDI_VERSION) || NTDDI_VERSION >= 0x06000000
# define P2P_VISTA_ 1
#else
# define P2P_VISTA_ 0
#endif
#if !defined(NTDDI_VERSION) || NTDDI_VERSION >= 0x06010000
# define P2P_WIN7_ 1
#else
# define P2P_WIN7_ 0
#endif

/* PNRP and collaboration do not exist before Vista (as in the SDK). */
#if !P2P_VISTA_
# ifndef NO_P2P_PNRP
#  define NO_P2P_PNRP
# endif
# ifndef NO_P2P_COLLABORATION
#  define NO_P2P_COLLABORATION
# endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ===========================================================================
 * Shared types (Peer Graphing / Grouping "Data Types", "Enumerations")
 * ======================================================================== */

/* ne-p2p-peer_record_change_type */
typedef enum peer_record_change_type_tag {
    PEER_RECORD_ADDED   = 1,
    PEER_RECORD_UPDATED = 2,
    PEER_RECORD_DELETED = 3,
    PEER_RECORD_EXPIRED = 4
} PEER_RECORD_CHANGE_TYPE;

/* ne-p2p-peer_connection_status */
typedef enum peer_connection_status_tag {
    PEER_CONNECTED         = 1,
    PEER_DISCONNECTED      = 2,
    PEER_CONNECTION_FAILED = 3
} PEER_CONNECTION_STATUS;

/* ne-p2p-peer_connection_flags */
typedef enum peer_connection_flags_tag {
    PEER_CONNECTION_NEIGHBOR = 0x0001,
    PEER_CONNECTION_DIRECT   = 0x0002
} PEER_CONNECTION_FLAGS;

/* ne-p2p-peer_record_flags */
typedef enum peer_record_flags_tag {
    PEER_RECORD_FLAG_AUTOREFRESH = 0x0001,
    PEER_RECORD_FLAG_DELETED     = 0x0002
} PEER_RECORD_FLAGS;

/* Opaque event and enumeration handles (Peer "Data Types" page). */
typedef void *HPEEREVENT;
typedef HPEEREVENT *PHPEEREVENT;
typedef void *HPEERENUM;
typedef HPEERENUM *PHPEERENUM;

/* ns-p2p-peer_version_data */
typedef struct peer_version_data_tag {
    WORD wVersion;           /* negotiated: low byte major, high byte minor */
    WORD wHighestVersion;
} PEER_VERSION_DATA, *PPEER_VERSION_DATA;

/* ns-p2p-peer_data */
typedef struct peer_data_tag {
    ULONG cbData;
    PBYTE pbData;
} PEER_DATA, *PPEER_DATA;
typedef const PEER_DATA *PCPEER_DATA;

/* ns-p2p-peer_record */
typedef struct peer_record_tag {
    DWORD     dwSize;
    GUID      type;
    GUID      id;
    DWORD     dwVersion;
    DWORD     dwFlags;            /* PEER_RECORD_FLAGS */
    PWSTR     pwzCreatorId;
    PWSTR     pwzModifiedById;
    PWSTR     pwzAttributes;
    FILETIME  ftCreation;
    FILETIME  ftExpiration;
    FILETIME  ftLastModified;
    PEER_DATA securityData;
    PEER_DATA data;
} PEER_RECORD, *PPEER_RECORD;

/* ns-p2p-peer_address (IPv6 only; IPv4 as v4-mapped addresses) */
typedef struct peer_address_tag {
    DWORD        dwSize;
    SOCKADDR_IN6 sin6;
} PEER_ADDRESS, *PPEER_ADDRESS;
typedef const PEER_ADDRESS *PCPEER_ADDRESS;

/* ns-p2p-peer_connection_info (the SDK defines no pointer typedef) */
typedef struct peer_connection_info_tag {
    DWORD        dwSize;
    DWORD        dwFlags;         /* PEER_CONNECTION_FLAGS */
    ULONGLONG    ullConnectionId;
    ULONGLONG    ullNodeId;
    PWSTR        pwzPeerId;
    PEER_ADDRESS address;
} PEER_CONNECTION_INFO;

/* ns-p2p-peer_event_incoming_data */
typedef struct peer_event_incoming_data_tag {
    DWORD     dwSize;
    ULONGLONG ullConnectionId;
    GUID      type;
    PEER_DATA data;
} PEER_EVENT_INCOMING_DATA, *PPEER_EVENT_INCOMING_DATA;

/* ns-p2p-peer_event_record_change_data */
typedef struct peer_event_record_change_data_tag {
    DWORD                   dwSize;
    PEER_RECORD_CHANGE_TYPE changeType;
    GUID                    recordId;
    GUID                    recordType;
} PEER_EVENT_RECORD_CHANGE_DATA, *PPEER_EVENT_RECORD_CHANGE_DATA;

/* ns-p2p-peer_event_connection_change_data (last two fields: Vista+) */
typedef struct peer_event_connection_change_data_tag {
    DWORD                  dwSize;
    PEER_CONNECTION_STATUS status;
    ULONGLONG              ullConnectionId;
    ULONGLONG              ullNodeId;
#if P2P_VISTA_
    ULONGLONG              ullNextConnectionId;
    HRESULT                hrConnectionFailedReason;
#endif
} PEER_EVENT_CONNECTION_CHANGE_DATA, *PPEER_EVENT_CONNECTION_CHANGE_DATA;

/* ns-p2p-peer_event_synchronized_data */
typedef struct peer_event_synchronized_data_tag {
    DWORD dwSize;
    GUID  recordType;
} PEER_EVENT_SYNCHRONIZED_DATA, *PPEER_EVENT_SYNCHRONIZED_DATA;

/* ===========================================================================
 * Graphing (P2PGRAPH.dll) - "Peer Graphing API Reference"
 * ======================================================================== */
#ifndef NO_P2P_GRAPH

#define PEER_GRAPH_VERSION MAKEWORD(1, 0)

typedef PVOID HGRAPH, *PHGRAPH;

/* ne-p2p-peer_graph_event_type */
typedef enum peer_graph_event_type_tag {
    PEER_GRAPH_EVENT_STATUS_CHANGED      = 1,
    PEER_GRAPH_EVENT_PROPERTY_CHANGED    = 2,
    PEER_GRAPH_EVENT_RECORD_CHANGED      = 3,
    PEER_GRAPH_EVENT_DIRECT_CONNECTION   = 4,
    PEER_GRAPH_EVENT_NEIGHBOR_CONNECTION = 5,
    PEER_GRAPH_EVENT_INCOMING_DATA       = 6,
    PEER_GRAPH_EVENT_CONNECTION_REQUIRED = 7,
    PEER_GRAPH_EVENT_NODE_CHANGED        = 8,
    PEER_GRAPH_EVENT_SYNCHRONIZED        = 9
} PEER_GRAPH_EVENT_TYPE;

/* ne-p2p-peer_node_change_type */
typedef enum peer_node_change_type_tag {
    PEER_NODE_CHANGE_CONNECTED    = 1,
    PEER_NODE_CHANGE_DISCONNECTED = 2,
    PEER_NODE_CHANGE_UPDATED      = 3
} PEER_NODE_CHANGE_TYPE;

/* ne-p2p-peer_graph_status_flags */
typedef enum peer_graph_status_flags_tag {
    PEER_GRAPH_STATUS_LISTENING       = 0x0001,
    PEER_GRAPH_STATUS_HAS_CONNECTIONS = 0x0002,
    PEER_GRAPH_STATUS_SYNCHRONIZED    = 0x0004
} PEER_GRAPH_STATUS_FLAGS;

/* ne-p2p-peer_graph_property_flags */
typedef enum peer_graph_property_flags_tag {
    PEER_GRAPH_PROPERTY_HEARTBEATS       = 0x0001,
    PEER_GRAPH_PROPERTY_DEFER_EXPIRATION = 0x0002
} PEER_GRAPH_PROPERTY_FLAGS;

/* ne-p2p-peer_graph_scope */
typedef enum peer_graph_scope_tag {
    PEER_GRAPH_SCOPE_ANY       = 0,
    PEER_GRAPH_SCOPE_GLOBAL    = 1,
    PEER_GRAPH_SCOPE_SITELOCAL = 2,
    PEER_GRAPH_SCOPE_LINKLOCAL = 3,
    PEER_GRAPH_SCOPE_LOOPBACK  = 4
} PEER_GRAPH_SCOPE;

/* ns-p2p-peer_graph_properties */
typedef struct peer_graph_properties_tag {
    DWORD dwSize;
    DWORD dwFlags;               /* PEER_GRAPH_PROPERTY_FLAGS */
    DWORD dwScope;               /* PEER_GRAPH_SCOPE */
    DWORD dwMaxRecordSize;
    PWSTR pwzGraphId;
    PWSTR pwzCreatorId;
    PWSTR pwzFriendlyName;
    PWSTR pwzComment;
    ULONG ulPresenceLifetime;
    ULONG cPresenceMax;
} PEER_GRAPH_PROPERTIES, *PPEER_GRAPH_PROPERTIES;

/* ns-p2p-peer_node_info */
typedef struct peer_node_info_tag {
    DWORD         dwSize;
    ULONGLONG     ullNodeId;
    PWSTR         pwzPeerId;
    ULONG         cAddresses;
    PPEER_ADDRESS pAddresses;
    PWSTR         pwzAttributes;
} PEER_NODE_INFO, *PPEER_NODE_INFO;

/* ns-p2p-peer_event_node_change_data */
typedef struct peer_event_node_change_data_tag {
    DWORD                 dwSize;
    PEER_NODE_CHANGE_TYPE changeType;
    ULONGLONG             ullNodeId;
    PWSTR                 pwzPeerId;
} PEER_EVENT_NODE_CHANGE_DATA, *PPEER_EVENT_NODE_CHANGE_DATA;

/* ns-p2p-peer_graph_event_registration */
typedef struct peer_graph_event_registration_tag {
    PEER_GRAPH_EVENT_TYPE eventType;
    GUID                 *pType;
} PEER_GRAPH_EVENT_REGISTRATION, *PPEER_GRAPH_EVENT_REGISTRATION;

/* ns-p2p-peer_graph_event_data */
typedef struct peer_graph_event_data_tag {
    PEER_GRAPH_EVENT_TYPE eventType;
    P2P_NAMELESS_ union {
        PEER_GRAPH_STATUS_FLAGS           dwStatus;
        PEER_EVENT_INCOMING_DATA          incomingData;
        PEER_EVENT_RECORD_CHANGE_DATA     recordChangeData;
        PEER_EVENT_CONNECTION_CHANGE_DATA connectionChangeData;
        PEER_EVENT_NODE_CHANGE_DATA       nodeChangeData;
        PEER_EVENT_SYNCHRONIZED_DATA      synchronizedData;
    };
} PEER_GRAPH_EVENT_DATA, *PPEER_GRAPH_EVENT_DATA;

/* Security provider callbacks (nc-p2p-pfnpeer_*) */
typedef HRESULT (CALLBACK *PFNPEER_VALIDATE_RECORD)(HGRAPH hGraph, PVOID pvContext,
        PPEER_RECORD pRecord, PEER_RECORD_CHANGE_TYPE changeType);
typedef HRESULT (CALLBACK *PFNPEER_SECURE_RECORD)(HGRAPH hGraph, PVOID pvContext,
        PPEER_RECORD pRecord, PEER_RECORD_CHANGE_TYPE changeType,
        PPEER_DATA *ppSecurityData);
typedef HRESULT (CALLBACK *PFNPEER_FREE_SECURITY_DATA)(HGRAPH hGraph, PVOID pvContext,
        PPEER_DATA pSecurityData);
typedef HRESULT (CALLBACK *PFNPEER_ON_PASSWORD_AUTH_FAILED)(HGRAPH hGraph, PVOID pvContext);

/* ns-p2p-peer_security_interface */
typedef struct peer_security_interface_tag {
    DWORD                           dwSize;
    PWSTR                           pwzSspFilename;
    PWSTR                           pwzPackageName;
    ULONG                           cbSecurityInfo;
    PBYTE                           pbSecurityInfo;
    PVOID                           pvContext;
    PFNPEER_VALIDATE_RECORD         pfnValidateRecord;
    PFNPEER_SECURE_RECORD           pfnSecureRecord;
    PFNPEER_FREE_SECURITY_DATA      pfnFreeSecurityData;
    PFNPEER_ON_PASSWORD_AUTH_FAILED pfnAuthFailed;
} PEER_SECURITY_INTERFACE, *PPEER_SECURITY_INTERFACE;

/* nf-p2p-peergraph* */
P2P_API HRESULT WINAPI PeerGraphStartup(WORD wVersionRequested, PPEER_VERSION_DATA pVersionData);
P2P_API HRESULT WINAPI PeerGraphShutdown(void);
P2P_API VOID    WINAPI PeerGraphFreeData(PVOID pvData);
P2P_API HRESULT WINAPI PeerGraphGetItemCount(HPEERENUM hPeerEnum, ULONG *pCount);
P2P_API HRESULT WINAPI PeerGraphGetNextItem(HPEERENUM hPeerEnum, ULONG *pCount, PVOID **pppvItems);
P2P_API HRESULT WINAPI PeerGraphEndEnumeration(HPEERENUM hPeerEnum);
P2P_API HRESULT WINAPI PeerGraphCreate(PPEER_GRAPH_PROPERTIES pGraphProperties,
        PCWSTR pwzDatabaseName, PPEER_SECURITY_INTERFACE pSecurityInterface, HGRAPH *phGraph);
P2P_API HRESULT WINAPI PeerGraphOpen(PCWSTR pwzGraphId, PCWSTR pwzPeerId, PCWSTR pwzDatabaseName,
        PPEER_SECURITY_INTERFACE pSecurityInterface, ULONG cRecordTypeSyncPrecedence,
        const GUID *pRecordTypeSyncPrecedence, HGRAPH *phGraph);
P2P_API HRESULT WINAPI PeerGraphListen(HGRAPH hGraph, DWORD dwScope, DWORD dwScopeId, WORD wPort);
P2P_API HRESULT WINAPI PeerGraphConnect(HGRAPH hGraph, PCWSTR pwzPeerId, PPEER_ADDRESS pAddress,
        ULONGLONG *pullConnectionId);
P2P_API HRESULT WINAPI PeerGraphClose(HGRAPH hGraph);
P2P_API HRESULT WINAPI PeerGraphDelete(PCWSTR pwzGraphId, PCWSTR pwzPeerId, PCWSTR pwzDatabaseName);
P2P_API HRESULT WINAPI PeerGraphGetStatus(HGRAPH hGraph, DWORD *pdwStatus);
P2P_API HRESULT WINAPI PeerGraphGetProperties(HGRAPH hGraph, PPEER_GRAPH_PROPERTIES *ppGraphProperties);
P2P_API HRESULT WINAPI PeerGraphSetProperties(HGRAPH hGraph, PPEER_GRAPH_PROPERTIES pGraphProperties);
P2P_API HRESULT WINAPI PeerGraphRegisterEvent(HGRAPH hGraph, HANDLE hEvent, ULONG cEventRegistrations,
        PEER_GRAPH_EVENT_REGISTRATION *pEventRegistrations, HPEEREVENT *phPeerEvent);
P2P_API HRESULT WINAPI PeerGraphUnregisterEvent(HPEEREVENT hPeerEvent);
P2P_API HRESULT WINAPI PeerGraphGetEventData(HPEEREVENT hPeerEvent, PPEER_GRAPH_EVENT_DATA *ppEventData);
P2P_API HRESULT WINAPI PeerGraphGetRecord(HGRAPH hGraph, const GUID *pRecordId, PPEER_RECORD *ppRecord);
P2P_API HRESULT WINAPI PeerGraphAddRecord(HGRAPH hGraph, PPEER_RECORD pRecord, GUID *pRecordId);
P2P_API HRESULT WINAPI PeerGraphUpdateRecord(HGRAPH hGraph, PPEER_RECORD pRecord);
P2P_API HRESULT WINAPI PeerGraphDeleteRecord(HGRAPH hGraph, const GUID *pRecordId, BOOL fLocal);
P2P_API HRESULT WINAPI PeerGraphEnumRecords(HGRAPH hGraph, const GUID *pRecordType, PCWSTR pwzPeerId,
        HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerGraphSearchRecords(HGRAPH hGraph, PCWSTR pwzCriteria, HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerGraphExportDatabase(HGRAPH hGraph, PCWSTR pwzFilePath);
P2P_API HRESULT WINAPI PeerGraphImportDatabase(HGRAPH hGraph, PCWSTR pwzFilePath);
P2P_API HRESULT WINAPI PeerGraphValidateDeferredRecords(HGRAPH hGraph, ULONG cRecordIds,
        const GUID *pRecordIds);
P2P_API HRESULT WINAPI PeerGraphOpenDirectConnection(HGRAPH hGraph, PCWSTR pwzPeerId,
        PPEER_ADDRESS pAddress, ULONGLONG *pullConnectionId);
P2P_API HRESULT WINAPI PeerGraphSendData(HGRAPH hGraph, ULONGLONG ullConnectionId, const GUID *pType,
        ULONG cbData, PVOID pvData);
P2P_API HRESULT WINAPI PeerGraphCloseDirectConnection(HGRAPH hGraph, ULONGLONG ullConnectionId);
P2P_API HRESULT WINAPI PeerGraphEnumConnections(HGRAPH hGraph, DWORD dwFlags, HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerGraphEnumNodes(HGRAPH hGraph, PCWSTR pwzPeerId, HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerGraphSetPresence(HGRAPH hGraph, BOOL fPresent);
P2P_API HRESULT WINAPI PeerGraphGetNodeInfo(HGRAPH hGraph, ULONGLONG ullNodeId, PPEER_NODE_INFO *ppNodeInfo);
P2P_API HRESULT WINAPI PeerGraphSetNodeAttributes(HGRAPH hGraph, PCWSTR pwzAttributes);
P2P_API HRESULT WINAPI PeerGraphPeerTimeToUniversalTime(HGRAPH hGraph, FILETIME *pftPeerTime,
        FILETIME *pftUniversalTime);
P2P_API HRESULT WINAPI PeerGraphUniversalTimeToPeerTime(HGRAPH hGraph, FILETIME *pftUniversalTime,
        FILETIME *pftPeerTime);

#endif /* !NO_P2P_GRAPH */

/* ===========================================================================
 * Memory and enumeration helpers shared by Grouping and Identity
 * (nf-p2p-peerfreedata, peergetitemcount, peergetnextitem, peerendenumeration)
 * ======================================================================== */
#if !(defined(NO_P2P_GROUP) && defined(NO_P2P_IDENTITY))
P2P_API VOID    WINAPI PeerFreeData(LPCVOID pvData);
P2P_API HRESULT WINAPI PeerGetItemCount(HPEERENUM hPeerEnum, ULONG *pCount);
P2P_API HRESULT WINAPI PeerGetNextItem(HPEERENUM hPeerEnum, ULONG *pCount, PVOID **pppvItems);
P2P_API HRESULT WINAPI PeerEndEnumeration(HPEERENUM hPeerEnum);
#endif

/* ===========================================================================
 * Grouping - "Peer Grouping API Reference"
 * ======================================================================== */
#ifndef NO_P2P_GROUP

typedef PVOID HGROUP, *PHGROUP;
typedef GUID PEER_ROLE_ID;

#if P2P_VISTA_
# define PEER_GROUP_VERSION MAKEWORD(1, 1)
#else
# define PEER_GROUP_VERSION MAKEWORD(1, 0)
#endif

/* ne-p2p-peer_group_event_type */
typedef enum peer_group_event_type_tag {
    PEER_GROUP_EVENT_STATUS_CHANGED         = 1,
    PEER_GROUP_EVENT_PROPERTY_CHANGED       = 2,
    PEER_GROUP_EVENT_RECORD_CHANGED         = 3,
    PEER_GROUP_EVENT_DIRECT_CONNECTION      = 4,
    PEER_GROUP_EVENT_NEIGHBOR_CONNECTION    = 5,
    PEER_GROUP_EVENT_INCOMING_DATA          = 6,
    PEER_GROUP_EVENT_MEMBER_CHANGED         = 8,
    PEER_GROUP_EVENT_CONNECTION_FAILED      = 10,
    PEER_GROUP_EVENT_AUTHENTICATION_FAILED  = 11
} PEER_GROUP_EVENT_TYPE;

/* ne-p2p-peer_group_status */
typedef enum peer_group_status_tag {
    PEER_GROUP_STATUS_LISTENING       = 0x0001,
    PEER_GROUP_STATUS_HAS_CONNECTIONS = 0x0002
} PEER_GROUP_STATUS;

/* ne-p2p-peer_group_property_flags */
typedef enum peer_group_property_flags_tag {
    PEER_MEMBER_DATA_OPTIONAL = 0x0001,
    PEER_DISABLE_PRESENCE     = 0x0002,
    PEER_DEFER_EXPIRATION     = 0x0004
} PEER_GROUP_PROPERTY_FLAGS;

#if P2P_VISTA_
/* ne-p2p-peer_group_authentication_scheme */
typedef enum peer_group_authentication_scheme_tag {
    PEER_GROUP_GMC_AUTHENTICATION      = 0x00000001,
    PEER_GROUP_PASSWORD_AUTHENTICATION = 0x00000002
} PEER_GROUP_AUTHENTICATION_SCHEME;
#endif

/* ne-p2p-peer_member_flags */
typedef enum peer_member_flags_tag {
    PEER_MEMBER_PRESENT = 0x0001
} PEER_MEMBER_FLAGS;

/* ne-p2p-peer_member_change_type */
typedef enum peer_member_change_type_tag {
    PEER_MEMBER_CONNECTED    = 1,
    PEER_MEMBER_DISCONNECTED = 2,
    PEER_MEMBER_UPDATED      = 3,
    PEER_MEMBER_JOINED       = 4,
    PEER_MEMBER_LEFT         = 5
} PEER_MEMBER_CHANGE_TYPE;

/* ne-p2p-peer_group_issue_credential_flags */
typedef enum peer_issue_credential_flags_tag {
    PEER_GROUP_STORE_CREDENTIALS = 0x0001
} PEER_GROUP_ISSUE_CREDENTIAL_FLAGS;

/* ns-p2p-peer_credential_info */
typedef struct peer_credential_info_tag {
    DWORD                 dwSize;
    DWORD                 dwFlags;
    PWSTR                 pwzFriendlyName;
    CERT_PUBLIC_KEY_INFO *pPublicKey;
    PWSTR                 pwzIssuerPeerName;
    PWSTR                 pwzIssuerFriendlyName;
    FILETIME              ftValidityStart;
    FILETIME              ftValidityEnd;
    ULONG                 cRoles;
    PEER_ROLE_ID         *pRoles;
} PEER_CREDENTIAL_INFO, *PPEER_CREDENTIAL_INFO;

/* ns-p2p-peer_member */
typedef struct peer_member_tag {
    DWORD                 dwSize;
    DWORD                 dwFlags;          /* PEER_MEMBER_FLAGS */
    PWSTR                 pwzIdentity;
    PWSTR                 pwzAttributes;
    ULONGLONG             ullNodeId;
    ULONG                 cAddresses;
    PEER_ADDRESS         *pAddresses;
    PEER_CREDENTIAL_INFO *pCredentialInfo;
} PEER_MEMBER, *PPEER_MEMBER;

/* ns-p2p-peer_invitation_info (authScheme: Vista+) */
typedef struct peer_invitation_info_tag {
    DWORD                 dwSize;
    DWORD                 dwFlags;
    PWSTR                 pwzCloudName;
    DWORD                 dwScope;
    DWORD                 dwCloudFlags;
    PWSTR                 pwzGroupPeerName;
    PWSTR                 pwzIssuerPeerName;
    PWSTR                 pwzSubjectPeerName;
    PWSTR                 pwzGroupFriendlyName;
    PWSTR                 pwzIssuerFriendlyName;
    PWSTR                 pwzSubjectFriendlyName;
    FILETIME              ftValidityStart;
    FILETIME              ftValidityEnd;
    ULONG                 cRoles;
    PEER_ROLE_ID         *pRoles;
    ULONG                 cClassifiers;
    PWSTR                *ppwzClassifiers;
    CERT_PUBLIC_KEY_INFO *pSubjectPublicKey;
#if P2P_VISTA_
    PEER_GROUP_AUTHENTICATION_SCHEME authScheme;
#endif
} PEER_INVITATION_INFO, *PPEER_INVITATION_INFO;

/* ns-p2p-peer_group_properties (last three fields: Vista+) */
typedef struct peer_group_properties_tag {
    DWORD        dwSize;
    DWORD        dwFlags;                 /* PEER_GROUP_PROPERTY_FLAGS */
    PWSTR        pwzCloud;
    PWSTR        pwzClassifier;
    PWSTR        pwzGroupPeerName;
    PWSTR        pwzCreatorPeerName;
    PWSTR        pwzFriendlyName;
    PWSTR        pwzComment;
    ULONG        ulMemberDataLifetime;
    ULONG        ulPresenceLifetime;
#if P2P_VISTA_
    DWORD        dwAuthenticationSchemes; /* PEER_GROUP_AUTHENTICATION_SCHEME */
    PWSTR        pwzGroupPassword;
    PEER_ROLE_ID groupPasswordRole;
#endif
} PEER_GROUP_PROPERTIES, *PPEER_GROUP_PROPERTIES;

/* ns-p2p-peer_event_member_change_data */
typedef struct peer_event_member_change_data_tag {
    DWORD                   dwSize;
    PEER_MEMBER_CHANGE_TYPE changeType;
    PWSTR                   pwzIdentity;
} PEER_EVENT_MEMBER_CHANGE_DATA, *PPEER_EVENT_MEMBER_CHANGE_DATA;

/* ns-p2p-peer_group_event_registration */
typedef struct peer_group_event_registration_tag {
    PEER_GROUP_EVENT_TYPE eventType;
    GUID                 *pType;
} PEER_GROUP_EVENT_REGISTRATION, *PPEER_GROUP_EVENT_REGISTRATION;

/* ns-p2p-peer_group_event_data */
typedef struct peer_group_event_data_tag {
    PEER_GROUP_EVENT_TYPE eventType;
    P2P_NAMELESS_ union {
        PEER_GROUP_STATUS                 dwStatus;
        PEER_EVENT_INCOMING_DATA          incomingData;
        PEER_EVENT_RECORD_CHANGE_DATA     recordChangeData;
        PEER_EVENT_CONNECTION_CHANGE_DATA connectionChangeData;
        PEER_EVENT_MEMBER_CHANGE_DATA     memberChangeData;
        HRESULT                           hrConnectionFailedReason;
    };
} PEER_GROUP_EVENT_DATA, *PPEER_GROUP_EVENT_DATA;

/* ns-p2p-peer_name_pair */
typedef struct peer_name_pair_tag {
    DWORD dwSize;
    PWSTR pwzPeerName;
    PWSTR pwzFriendlyName;
} PEER_NAME_PAIR, *PPEER_NAME_PAIR;

/* nf-p2p-peergroup* */
P2P_API HRESULT WINAPI PeerGroupStartup(WORD wVersionRequested, PPEER_VERSION_DATA pVersionData);
P2P_API HRESULT WINAPI PeerGroupShutdown(void);
P2P_API HRESULT WINAPI PeerGroupCreate(PPEER_GROUP_PROPERTIES pProperties, HGROUP *phGroup);
P2P_API HRESULT WINAPI PeerGroupOpen(PCWSTR pwzIdentity, PCWSTR pwzGroupPeerName, PCWSTR pwzCloud,
        HGROUP *phGroup);
P2P_API HRESULT WINAPI PeerGroupJoin(PCWSTR pwzIdentity, PCWSTR pwzInvitation, PCWSTR pwzCloud,
        HGROUP *phGroup);
#if P2P_VISTA_
P2P_API HRESULT WINAPI PeerGroupPasswordJoin(PCWSTR pwzIdentity, PCWSTR pwzInvitation,
        PCWSTR pwzPassword, PCWSTR pwzCloud, HGROUP *phGroup);
#endif
P2P_API HRESULT WINAPI PeerGroupConnect(HGROUP hGroup);
#if P2P_VISTA_
P2P_API HRESULT WINAPI PeerGroupConnectByAddress(HGROUP hGroup, ULONG cAddresses,
        PPEER_ADDRESS pAddresses);
#endif
P2P_API HRESULT WINAPI PeerGroupClose(HGROUP hGroup);
P2P_API HRESULT WINAPI PeerGroupDelete(PCWSTR pwzIdentity, PCWSTR pwzGroupPeerName);
P2P_API HRESULT WINAPI PeerGroupCreateInvitation(HGROUP hGroup, PCWSTR pwzIdentityInfo,
        FILETIME *pftExpiration, ULONG cRoles, const GUID *pRoles, PWSTR *ppwzInvitation);
#if P2P_VISTA_
P2P_API HRESULT WINAPI PeerGroupCreatePasswordInvitation(HGROUP hGroup, PWSTR *ppwzInvitation);
#endif
P2P_API HRESULT WINAPI PeerGroupParseInvitation(PCWSTR pwzInvitation,
        PPEER_INVITATION_INFO *ppInvitationInfo);
P2P_API HRESULT WINAPI PeerGroupGetStatus(HGROUP hGroup, DWORD *pdwStatus);
P2P_API HRESULT WINAPI PeerGroupGetProperties(HGROUP hGroup, PPEER_GROUP_PROPERTIES *ppProperties);
P2P_API HRESULT WINAPI PeerGroupSetProperties(HGROUP hGroup, PPEER_GROUP_PROPERTIES pProperties);
P2P_API HRESULT WINAPI PeerGroupEnumMembers(HGROUP hGroup, DWORD dwFlags, PCWSTR pwzIdentity,
        HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerGroupOpenDirectConnection(HGROUP hGroup, PCWSTR pwzIdentity,
        PPEER_ADDRESS pAddress, ULONGLONG *pullConnectionId);
P2P_API HRESULT WINAPI PeerGroupCloseDirectConnection(HGROUP hGroup, ULONGLONG ullConnectionId);
P2P_API HRESULT WINAPI PeerGroupEnumConnections(HGROUP hGroup, DWORD dwFlags, HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerGroupSendData(HGROUP hGroup, ULONGLONG ullConnectionId, const GUID *pType,
        ULONG cbData, PVOID pvData);
P2P_API HRESULT WINAPI PeerGroupRegisterEvent(HGROUP hGroup, HANDLE hEvent, DWORD cEventRegistration,
        PEER_GROUP_EVENT_REGISTRATION *pEventRegistrations, HPEEREVENT *phPeerEvent);
P2P_API HRESULT WINAPI PeerGroupUnregisterEvent(HPEEREVENT hPeerEvent);
P2P_API HRESULT WINAPI PeerGroupGetEventData(HPEEREVENT hPeerEvent, PPEER_GROUP_EVENT_DATA *ppEventData);
P2P_API HRESULT WINAPI PeerGroupGetRecord(HGROUP hGroup, const GUID *pRecordId, PPEER_RECORD *ppRecord);
P2P_API HRESULT WINAPI PeerGroupAddRecord(HGROUP hGroup, PPEER_RECORD pRecord, GUID *pRecordId);
P2P_API HRESULT WINAPI PeerGroupUpdateRecord(HGROUP hGroup, PPEER_RECORD pRecord);
P2P_API HRESULT WINAPI PeerGroupDeleteRecord(HGROUP hGroup, const GUID *pRecordId);
P2P_API HRESULT WINAPI PeerGroupEnumRecords(HGROUP hGroup, const GUID *pRecordType,
        HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerGroupSearchRecords(HGROUP hGroup, PCWSTR pwzCriteria, HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerGroupExportDatabase(HGROUP hGroup, PCWSTR pwzFilePath);
P2P_API HRESULT WINAPI PeerGroupImportDatabase(HGROUP hGroup, PCWSTR pwzFilePath);
P2P_API HRESULT WINAPI PeerGroupIssueCredentials(HGROUP hGroup, PCWSTR pwzSubjectIdentity,
        PEER_CREDENTIAL_INFO *pCredentialInfo, DWORD dwFlags, PWSTR *ppwzInvitation);
P2P_API HRESULT WINAPI PeerGroupExportConfig(HGROUP hGroup, PCWSTR pwzPassword, PWSTR *ppwzXML);
P2P_API HRESULT WINAPI PeerGroupImportConfig(PCWSTR pwzXML, PCWSTR pwzPassword, BOOL fOverwrite,
        PWSTR *ppwzIdentity, PWSTR *ppwzGroup);
P2P_API HRESULT WINAPI PeerGroupPeerTimeToUniversalTime(HGROUP hGroup, FILETIME *pftPeerTime,
        FILETIME *pftUniversalTime);
P2P_API HRESULT WINAPI PeerGroupUniversalTimeToPeerTime(HGROUP hGroup, FILETIME *pftUniversalTime,
        FILETIME *pftPeerTime);
#if P2P_WIN7_
/* Declared by the SDK for Windows 7+; no reference page exists. */
P2P_API HRESULT WINAPI PeerGroupResumePasswordAuthentication(HGROUP hGroup,
        HPEEREVENT hPeerEventHandle);
#endif

#endif /* !NO_P2P_GROUP */

/* ===========================================================================
 * Identity Manager - "Identity Manager Functions" (nf-p2p-peeridentity*)
 * ======================================================================== */
#ifndef NO_P2P_IDENTITY
P2P_API HRESULT WINAPI PeerIdentityCreate(PCWSTR pwzClassifier, PCWSTR pwzFriendlyName,
        HCRYPTPROV hCryptProv, PWSTR *ppwzIdentity);
P2P_API HRESULT WINAPI PeerIdentityGetFriendlyName(PCWSTR pwzIdentity, PWSTR *ppwzFriendlyName);
P2P_API HRESULT WINAPI PeerIdentitySetFriendlyName(PCWSTR pwzIdentity, PCWSTR pwzFriendlyName);
P2P_API HRESULT WINAPI PeerIdentityGetCryptKey(PCWSTR pwzIdentity, HCRYPTPROV *phCryptProv);
P2P_API HRESULT WINAPI PeerIdentityDelete(PCWSTR pwzIdentity);
P2P_API HRESULT WINAPI PeerEnumIdentities(HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerEnumGroups(PCWSTR pwzIdentity, HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerCreatePeerName(PCWSTR pwzIdentity, PCWSTR pwzClassifier,
        PWSTR *ppwzPeerName);
P2P_API HRESULT WINAPI PeerIdentityGetXML(PCWSTR pwzIdentity, PWSTR *ppwzIdentityXML);
P2P_API HRESULT WINAPI PeerIdentityExport(PCWSTR pwzIdentity, PCWSTR pwzPassword,
        PWSTR *ppwzExportXML);
P2P_API HRESULT WINAPI PeerIdentityImport(PCWSTR pwzImportXML, PCWSTR pwzPassword,
        PWSTR *ppwzIdentity);
P2P_API HRESULT WINAPI PeerIdentityGetDefault(PWSTR *ppwzPeerName);
#endif /* !NO_P2P_IDENTITY */

/* ===========================================================================
 * Collaboration (Vista+) - "Peer Collaboration API Reference"
 * ======================================================================== */
#ifndef NO_P2P_COLLABORATION

#define PEER_COLLAB_VERSION MAKEWORD(1, 0)

/* ne-p2p-peer_signin_flags */
typedef enum peer_signin_flags_tag {
    PEER_SIGNIN_NONE     = 0x0,
    PEER_SIGNIN_NEAR_ME  = 0x1,
    PEER_SIGNIN_INTERNET = 0x2,
    PEER_SIGNIN_ALL      = PEER_SIGNIN_INTERNET | PEER_SIGNIN_NEAR_ME
} PEER_SIGNIN_FLAGS;

/* ne-p2p-peer_watch_permission */
typedef enum peer_watch_permission_tag {
    PEER_WATCH_BLOCKED = 0,
    PEER_WATCH_ALLOWED = 1
} PEER_WATCH_PERMISSION;

/* ne-p2p-peer_publication_scope */
typedef enum peer_publication_scope_tag {
    PEER_PUBLICATION_SCOPE_NONE     = 0x0,
    PEER_PUBLICATION_SCOPE_NEAR_ME  = 0x1,
    PEER_PUBLICATION_SCOPE_INTERNET = 0x2,
    PEER_PUBLICATION_SCOPE_ALL      = PEER_PUBLICATION_SCOPE_NEAR_ME | PEER_PUBLICATION_SCOPE_INTERNET
} PEER_PUBLICATION_SCOPE;

/* ns-p2p-peer_application */
typedef struct peer_application_tag {
    GUID      id;
    PEER_DATA data;
    PWSTR     pwzDescription;
} PEER_APPLICATION, *PPEER_APPLICATION;
typedef const PEER_APPLICATION *PCPEER_APPLICATION;

/* ns-p2p-peer_object */
typedef struct peer_object_tag {
    GUID      id;
    PEER_DATA data;
    DWORD     dwPublicationScope;      /* PEER_PUBLICATION_SCOPE */
} PEER_OBJECT, *PPEER_OBJECT;
typedef const PEER_OBJECT *PCPEER_OBJECT;

/* ns-p2p-peer_contact */
typedef struct peer_contact_tag {
    PWSTR                 pwzPeerName;
    PWSTR                 pwzNickName;
    PWSTR                 pwzDisplayName;
    PWSTR                 pwzEmailAddress;
    BOOL                  fWatch;
    PEER_WATCH_PERMISSION WatcherPermissions;
    PEER_DATA             credentials;
} PEER_CONTACT, *PPEER_CONTACT;
typedef const PEER_CONTACT *PCPEER_CONTACT;

/* ns-p2p-peer_endpoint */
typedef struct peer_endpoint_tag {
    PEER_ADDRESS address;
    PWSTR        pwzEndpointName;
} PEER_ENDPOINT, *PPEER_ENDPOINT;
typedef const PEER_ENDPOINT *PCPEER_ENDPOINT;

/* ns-p2p-peer_people_near_me */
typedef struct peer_people_near_me_tag {
    PWSTR         pwzNickName;
    PEER_ENDPOINT endpoint;
    GUID          id;
} PEER_PEOPLE_NEAR_ME, *PPEER_PEOPLE_NEAR_ME;
typedef const PEER_PEOPLE_NEAR_ME *PCPEER_PEOPLE_NEAR_ME;
typedef PPEER_PEOPLE_NEAR_ME *PPPEER_PEOPLE_NEAR_ME;

/* Sign-in (nf-p2p-peercollabstartup ... peercollabgetsigninoptions) */
P2P_API HRESULT WINAPI PeerCollabStartup(WORD wVersionRequested);
P2P_API HRESULT WINAPI PeerCollabShutdown(void);
P2P_API HRESULT WINAPI PeerCollabSignin(HWND hwndParent, DWORD dwSigninOptions);
P2P_API HRESULT WINAPI PeerCollabSignout(DWORD dwSigninOptions);
P2P_API HRESULT WINAPI PeerCollabGetSigninOptions(DWORD *pdwSigninOptions);

/* ne-p2p-peer_invitation_response_type */
typedef enum peer_invitation_response_type_tag {
    PEER_INVITATION_RESPONSE_DECLINED = 0,
    PEER_INVITATION_RESPONSE_ACCEPTED = 1,
    PEER_INVITATION_RESPONSE_EXPIRED  = 2,
    PEER_INVITATION_RESPONSE_ERROR    = 3
} PEER_INVITATION_RESPONSE_TYPE;

/* ne-p2p-peer_application_registration_type */
typedef enum peer_application_registration_type_tag {
    PEER_APPLICATION_CURRENT_USER = 0,
    PEER_APPLICATION_ALL_USERS    = 1
} PEER_APPLICATION_REGISTRATION_TYPE;

/* ns-p2p-peer_invitation */
typedef struct peer_invitation_tag {
    GUID      applicationId;
    PEER_DATA applicationData;
    PWSTR     pwzMessage;
} PEER_INVITATION, *PPEER_INVITATION;
typedef const PEER_INVITATION *PCPEER_INVITATION;

/* ns-p2p-peer_invitation_response */
typedef struct peer_invitation_response_tag {
    PEER_INVITATION_RESPONSE_TYPE action;
    PWSTR                         pwzMessage;
    HRESULT                       hrExtendedInfo;
} PEER_INVITATION_RESPONSE, *PPEER_INVITATION_RESPONSE;
typedef const PEER_INVITATION_RESPONSE *PCPEER_INVITATION_RESPONSE;

/* ns-p2p-peer_app_launch_info */
typedef struct peer_app_launch_info_tag {
    PPEER_CONTACT    pContact;
    PPEER_ENDPOINT   pEndpoint;
    PPEER_INVITATION pInvitation;
} PEER_APP_LAUNCH_INFO, *PPEER_APP_LAUNCH_INFO;
typedef const PEER_APP_LAUNCH_INFO *PCPEER_APP_LAUNCH_INFO;

/* ns-p2p-peer_application_registration_info */
typedef struct peer_application_registration_info_tag {
    PEER_APPLICATION application;
    PWSTR            pwzApplicationToLaunch;
    PWSTR            pwzApplicationArguments;
    DWORD            dwPublicationScope;
} PEER_APPLICATION_REGISTRATION_INFO, *PPEER_APPLICATION_REGISTRATION_INFO;
typedef const PEER_APPLICATION_REGISTRATION_INFO *PCPEER_APPLICATION_REGISTRATION_INFO;

/* Invitations and application registration */
P2P_API HRESULT WINAPI PeerCollabAsyncInviteContact(PCPEER_CONTACT pcContact,
        PCPEER_ENDPOINT pcEndpoint, PCPEER_INVITATION pcInvitation, HANDLE hEvent,
        HANDLE *phInvitation);
P2P_API HRESULT WINAPI PeerCollabGetInvitationResponse(HANDLE hInvitation,
        PPEER_INVITATION_RESPONSE *ppInvitationResponse);
P2P_API HRESULT WINAPI PeerCollabCancelInvitation(HANDLE hInvitation);
P2P_API HRESULT WINAPI PeerCollabCloseHandle(HANDLE hInvitation);
P2P_API HRESULT WINAPI PeerCollabInviteContact(PCPEER_CONTACT pcContact, PCPEER_ENDPOINT pcEndpoint,
        PCPEER_INVITATION pcInvitation, PPEER_INVITATION_RESPONSE *ppResponse);
P2P_API HRESULT WINAPI PeerCollabAsyncInviteEndpoint(PCPEER_ENDPOINT pcEndpoint,
        PCPEER_INVITATION pcInvitation, HANDLE hEvent, HANDLE *phInvitation);
P2P_API HRESULT WINAPI PeerCollabInviteEndpoint(PCPEER_ENDPOINT pcEndpoint,
        PCPEER_INVITATION pcInvitation, PPEER_INVITATION_RESPONSE *ppResponse);
P2P_API HRESULT WINAPI PeerCollabGetAppLaunchInfo(PPEER_APP_LAUNCH_INFO *ppLaunchInfo);
P2P_API HRESULT WINAPI PeerCollabRegisterApplication(PCPEER_APPLICATION_REGISTRATION_INFO pcApplication,
        PEER_APPLICATION_REGISTRATION_TYPE registrationType);
P2P_API HRESULT WINAPI PeerCollabUnregisterApplication(const GUID *pApplicationId,
        PEER_APPLICATION_REGISTRATION_TYPE registrationType);
P2P_API HRESULT WINAPI PeerCollabGetApplicationRegistrationInfo(const GUID *pApplicationId,
        PEER_APPLICATION_REGISTRATION_TYPE registrationType,
        PPEER_APPLICATION_REGISTRATION_INFO *ppApplication);
P2P_API HRESULT WINAPI PeerCollabEnumApplicationRegistrationInfo(
        PEER_APPLICATION_REGISTRATION_TYPE registrationType, HPEERENUM *phPeerEnum);

/* ne-p2p-peer_presence_status */
typedef enum peer_presence_status_tag {
    PEER_PRESENCE_OFFLINE       = 0,
    PEER_PRESENCE_OUT_TO_LUNCH  = 1,
    PEER_PRESENCE_AWAY          = 2,
    PEER_PRESENCE_BE_RIGHT_BACK = 3,
    PEER_PRESENCE_IDLE          = 4,
    PEER_PRESENCE_BUSY          = 5,
    PEER_PRESENCE_ON_THE_PHONE  = 6,
    PEER_PRESENCE_ONLINE        = 7
} PEER_PRESENCE_STATUS;

/* ns-p2p-peer_presence_info */
typedef struct peer_presence_info_tag {
    PEER_PRESENCE_STATUS status;
    PWSTR                pwzDescriptiveText;
} PEER_PRESENCE_INFO, *PPEER_PRESENCE_INFO;
typedef const PEER_PRESENCE_INFO *PCPEER_PRESENCE_INFO;

/* Serverless presence: subscriber and publisher side */
P2P_API HRESULT WINAPI PeerCollabGetPresenceInfo(PCPEER_ENDPOINT pcEndpoint,
        PPEER_PRESENCE_INFO *ppPresenceInfo);
P2P_API HRESULT WINAPI PeerCollabEnumApplications(PCPEER_ENDPOINT pcEndpoint,
        const GUID *pApplicationId, HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerCollabEnumObjects(PCPEER_ENDPOINT pcEndpoint, const GUID *pObjectId,
        HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerCollabEnumEndpoints(PCPEER_CONTACT pcContact, HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerCollabRefreshEndpointData(PCPEER_ENDPOINT pcEndpoint);
P2P_API HRESULT WINAPI PeerCollabDeleteEndpointData(PCPEER_ENDPOINT pcEndpoint);
P2P_API HRESULT WINAPI PeerCollabQueryContactData(PCPEER_ENDPOINT pcEndpoint, PWSTR *ppwzContactData);
P2P_API HRESULT WINAPI PeerCollabSubscribeEndpointData(const PCPEER_ENDPOINT pcEndpoint);
P2P_API HRESULT WINAPI PeerCollabUnsubscribeEndpointData(const PCPEER_ENDPOINT pcEndpoint);
P2P_API HRESULT WINAPI PeerCollabSetPresenceInfo(PCPEER_PRESENCE_INFO pcPresenceInfo);
P2P_API HRESULT WINAPI PeerCollabGetEndpointName(PWSTR *ppwzEndpointName);
P2P_API HRESULT WINAPI PeerCollabSetEndpointName(PCWSTR pwzEndpointName);
P2P_API HRESULT WINAPI PeerCollabSetObject(PCPEER_OBJECT pcObject);
P2P_API HRESULT WINAPI PeerCollabDeleteObject(const GUID *pObjectId);

/* ne-p2p-peer_change_type */
typedef enum peer_change_type_tag {
    PEER_CHANGE_ADDED   = 0,
    PEER_CHANGE_DELETED = 1,
    PEER_CHANGE_UPDATED = 2
} PEER_CHANGE_TYPE;

/* ne-p2p-peer_collab_event_type */
typedef enum peer_collab_event_type_tag {
    PEER_EVENT_WATCHLIST_CHANGED            = 1,
    PEER_EVENT_ENDPOINT_CHANGED             = 2,
    PEER_EVENT_ENDPOINT_PRESENCE_CHANGED    = 3,
    PEER_EVENT_ENDPOINT_APPLICATION_CHANGED = 4,
    PEER_EVENT_ENDPOINT_OBJECT_CHANGED      = 5,
    PEER_EVENT_MY_ENDPOINT_CHANGED          = 6,
    PEER_EVENT_MY_PRESENCE_CHANGED          = 7,
    PEER_EVENT_MY_APPLICATION_CHANGED       = 8,
    PEER_EVENT_MY_OBJECT_CHANGED            = 9,
    PEER_EVENT_PEOPLE_NEAR_ME_CHANGED       = 10,
    PEER_EVENT_REQUEST_STATUS_CHANGED       = 11
} PEER_COLLAB_EVENT_TYPE;

/* ns-p2p-peer_collab_event_registration */
typedef struct peer_collab_event_registration_tag {
    PEER_COLLAB_EVENT_TYPE eventType;
    GUID                  *pInstance;
} PEER_COLLAB_EVENT_REGISTRATION, *PPEER_COLLAB_EVENT_REGISTRATION;

/* ns-p2p-peer_event_watchlist_changed_data */
typedef struct peer_event_watchlist_changed_data_tag {
    PPEER_CONTACT    pContact;
    PEER_CHANGE_TYPE changeType;
} PEER_EVENT_WATCHLIST_CHANGED_DATA, *PPEER_EVENT_WATCHLIST_CHANGED_DATA;

/* ns-p2p-peer_event_presence_changed_data */
typedef struct peer_event_presence_changed_data_tag {
    PPEER_CONTACT       pContact;
    PPEER_ENDPOINT      pEndpoint;
    PEER_CHANGE_TYPE    changeType;
    PPEER_PRESENCE_INFO pPresenceInfo;
} PEER_EVENT_PRESENCE_CHANGED_DATA, *PPEER_EVENT_PRESENCE_CHANGED_DATA;

/* ns-p2p-peer_event_application_changed_data */
typedef struct peer_event_application_changed_data_tag {
    PPEER_CONTACT     pContact;
    PPEER_ENDPOINT    pEndpoint;
    PEER_CHANGE_TYPE  changeType;
    PPEER_APPLICATION pApplication;
} PEER_EVENT_APPLICATION_CHANGED_DATA, *PPEER_EVENT_APPLICATION_CHANGED_DATA;

/* ns-p2p-peer_event_object_changed_data */
typedef struct peer_event_object_changed_data_tag {
    PPEER_CONTACT    pContact;
    PPEER_ENDPOINT   pEndpoint;
    PEER_CHANGE_TYPE changeType;
    PPEER_OBJECT     pObject;
} PEER_EVENT_OBJECT_CHANGED_DATA, *PPEER_EVENT_OBJECT_CHANGED_DATA;

/* ns-p2p-peer_event_endpoint_changed_data */
typedef struct peer_event_endpoint_changed_data_tag {
    PPEER_CONTACT  pContact;
    PPEER_ENDPOINT pEndpoint;
} PEER_EVENT_ENDPOINT_CHANGED_DATA, *PPEER_EVENT_ENDPOINT_CHANGED_DATA;

/* ns-p2p-peer_event_people_near_me_changed_data */
typedef struct peer_event_people_near_me_changed_data_tag {
    PEER_CHANGE_TYPE     changeType;
    PPEER_PEOPLE_NEAR_ME pPeopleNearMe;
} PEER_EVENT_PEOPLE_NEAR_ME_CHANGED_DATA, *PPEER_EVENT_PEOPLE_NEAR_ME_CHANGED_DATA;

/* ns-p2p-peer_event_request_status_changed_data */
typedef struct peer_event_request_status_changed_data_tag {
    PPEER_ENDPOINT pEndpoint;
    HRESULT        hrChange;
} PEER_EVENT_REQUEST_STATUS_CHANGED_DATA, *PPEER_EVENT_REQUEST_STATUS_CHANGED_DATA;

/* ns-p2p-peer_collab_event_data */
typedef struct peer_collab_event_data_tag {
    PEER_COLLAB_EVENT_TYPE eventType;
    P2P_NAMELESS_ union {
        PEER_EVENT_WATCHLIST_CHANGED_DATA      watchListChangedData;
        PEER_EVENT_PRESENCE_CHANGED_DATA       presenceChangedData;
        PEER_EVENT_APPLICATION_CHANGED_DATA    applicationChangedData;
        PEER_EVENT_OBJECT_CHANGED_DATA         objectChangedData;
        PEER_EVENT_ENDPOINT_CHANGED_DATA       endpointChangedData;
        PEER_EVENT_PEOPLE_NEAR_ME_CHANGED_DATA peopleNearMeChangedData;
        PEER_EVENT_REQUEST_STATUS_CHANGED_DATA requestStatusChangedData;
    };
} PEER_COLLAB_EVENT_DATA, *PPEER_COLLAB_EVENT_DATA;

/* Events, People Near Me, contacts */
P2P_API HRESULT WINAPI PeerCollabRegisterEvent(HANDLE hEvent, DWORD cEventRegistration,
        PEER_COLLAB_EVENT_REGISTRATION *pEventRegistrations, HPEEREVENT *phPeerEvent);
P2P_API HRESULT WINAPI PeerCollabGetEventData(HPEEREVENT hPeerEvent,
        PPEER_COLLAB_EVENT_DATA *ppEventData);
P2P_API HRESULT WINAPI PeerCollabUnregisterEvent(HPEEREVENT hPeerEvent);
P2P_API HRESULT WINAPI PeerCollabEnumPeopleNearMe(HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerCollabAddContact(PCWSTR pwzContactData, PPEER_CONTACT *ppContact);
P2P_API HRESULT WINAPI PeerCollabDeleteContact(PCWSTR pwzPeerName);
P2P_API HRESULT WINAPI PeerCollabGetContact(PCWSTR pwzPeerName, PPEER_CONTACT *ppContact);
P2P_API HRESULT WINAPI PeerCollabUpdateContact(PCPEER_CONTACT pContact);
P2P_API HRESULT WINAPI PeerCollabEnumContacts(HPEERENUM *phPeerEnum);
P2P_API HRESULT WINAPI PeerCollabExportContact(PCWSTR pwzPeerName, PWSTR *ppwzContactData);
P2P_API HRESULT WINAPI PeerCollabParseContact(PCWSTR pwzContactData, PPEER_CONTACT *ppContact);

#endif /* !NO_P2P_COLLABORATION */

/* ===========================================================================
 * PNRP helpers (Vista+) - "PNRP Functions" (nf-p2p-peerpnrp*)
 * ======================================================================== */
#ifndef NO_P2P_PNRP

#define PNRP_VERSION MAKEWORD(2, 0)

#define PEER_PNRP_ALL_LINK_CLOUDS L"PEER_PNRP_ALL_LINKS"   /* every link-local cloud */
#define PEER_PNRP_AUTO_ADDRESSES  ((ULONG)(-1))            /* cAddresses: choose automatically */

typedef PVOID HRESOLUTION, HREGISTRATION;

/* ns-p2p-peer_pnrp_endpoint_info */
typedef struct peer_pnrp_endpoint_info_tag {
    PWSTR      pwzPeerName;
    ULONG      cAddresses;
    SOCKADDR **ppAddresses;
    PWSTR      pwzComment;
    PEER_DATA  payload;
} PEER_PNRP_ENDPOINT_INFO, *PPEER_PNRP_ENDPOINT_INFO;

/* ns-p2p-peer_pnrp_cloud_info */
typedef struct peer_pnrp_cloud_info_tag {
    PWSTR      pwzCloudName;
    PNRP_SCOPE dwScope;
    DWORD      dwScopeId;
} PEER_PNRP_CLOUD_INFO, *PPEER_PNRP_CLOUD_INFO;

/* ns-p2p-peer_pnrp_registration_info */
typedef struct peer_pnrp_registration_info_tag {
    PWSTR      pwzCloudName;
    PWSTR      pwzPublishingIdentity;
    ULONG      cAddresses;
    SOCKADDR **ppAddresses;
    WORD       wPort;
    PWSTR      pwzComment;
    PEER_DATA  payload;
} PEER_PNRP_REGISTRATION_INFO, *PPEER_PNRP_REGISTRATION_INFO;

P2P_API HRESULT WINAPI PeerNameToPeerHostName(PCWSTR pwzPeerName, PWSTR *ppwzHostName);
P2P_API HRESULT WINAPI PeerHostNameToPeerName(PCWSTR pwzHostName, PWSTR *ppwzPeerName);
P2P_API HRESULT WINAPI PeerPnrpStartup(WORD wVersionRequested);
P2P_API HRESULT WINAPI PeerPnrpShutdown(void);
P2P_API HRESULT WINAPI PeerPnrpRegister(PCWSTR pcwzPeerName,
        PPEER_PNRP_REGISTRATION_INFO pRegistrationInfo, HREGISTRATION *phRegistration);
P2P_API HRESULT WINAPI PeerPnrpUpdateRegistration(HREGISTRATION hRegistration,
        PPEER_PNRP_REGISTRATION_INFO pRegistrationInfo);
P2P_API HRESULT WINAPI PeerPnrpUnregister(HREGISTRATION hRegistration);
P2P_API HRESULT WINAPI PeerPnrpResolve(PCWSTR pcwzPeerName, PCWSTR pcwzCloudName,
        ULONG *pcEndpoints, PPEER_PNRP_ENDPOINT_INFO *ppEndpoints);
P2P_API HRESULT WINAPI PeerPnrpStartResolve(PCWSTR pcwzPeerName, PCWSTR pcwzCloudName,
        ULONG cMaxEndpoints, HANDLE hEvent, HRESOLUTION *phResolve);
P2P_API HRESULT WINAPI PeerPnrpGetCloudInfo(ULONG *pcNumClouds, PPEER_PNRP_CLOUD_INFO *ppCloudInfo);
P2P_API HRESULT WINAPI PeerPnrpGetEndpoint(HRESOLUTION hResolve, PPEER_PNRP_ENDPOINT_INFO *ppEndpoint);
P2P_API HRESULT WINAPI PeerPnrpEndResolve(HRESOLUTION hResolve);

#endif /* !NO_P2P_PNRP */

#ifdef __cplusplus
}
#endif

#endif /* _P2P_H_ */

/* ---- Well-known GUIDs (outside the guard, like the SDK, so that a second
 * inclusion after <initguid.h> instantiates them). Values: PEER_GROUP_ROLE_*
 * from "PEER_GROUP_PROPERTIES"/role docs; USER_PICTURE from PeerCollabSetObject.
 * --------------------------------------------------------------------------- */
#ifdef DEFINE_GUID
# ifndef NO_P2P_GROUP
DEFINE_GUID(PEER_GROUP_ROLE_ADMIN,
    0x04387127, 0xaa56, 0x450a, 0x8c, 0xe5, 0x4f, 0x56, 0x5c, 0x67, 0x90, 0xf4);
DEFINE_GUID(PEER_GROUP_ROLE_MEMBER,
    0xf12dc4c7, 0x0857, 0x4ca0, 0x93, 0xfc, 0xb1, 0xbb, 0x19, 0xa3, 0xd8, 0xc2);
#  if !defined(NTDDI_VERSION) || NTDDI_VERSION >= 0x06000000
DEFINE_GUID(PEER_GROUP_ROLE_INVITING_MEMBER,
    0x4370fd89, 0xdc18, 0x4cfb, 0x8d, 0xbf, 0x98, 0x53, 0xa8, 0xa9, 0xf9, 0x05);
#  endif
# endif
# ifndef NO_P2P_COLLABORATION
DEFINE_GUID(PEER_COLLAB_OBJECTID_USER_PICTURE,
    0xdd15f41f, 0xfc4e, 0x4922, 0xb0, 0x35, 0x4c, 0x06, 0xa7, 0x54, 0xd0, 0x1d);
# endif
#endif
