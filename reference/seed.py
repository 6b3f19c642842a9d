"""The reference content sipdesk ships with, and the idempotent code that seeds it.

The tables are copied from 8x8's SIP response code list (SIP codes, classes, statuses, troubleshooting, best practices;
docs/design.md §6) and docs/8x8-webhooks.md §2.5 / §6.1 (opt-out statuses, voice
error codes). The retry advice, responsibility and explanations are sipdesk's own, following
docs/design.md §5; admins may edit all of it afterwards.

``seed_all(apps)`` works with the historical app registry inside a migration and with the real
``django.apps.apps`` (the root conftest re-seeds after every transactional-test flush). It only
ever *creates* rows whose natural key is missing, so an admin's edit is never overwritten, and it
reads each table's keys once, so a run against an already-seeded database costs a few queries.

Values are plain strings, not ``reference.models`` enums, so the migrations that import this
module keep working when the models change.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS

# Retry advice and responsibility values (see reference.models.RetryAdvice / Responsibility).
BACKOFF = "retry_with_backoff"
LATER = "retry_later"
FIX = "fix_request"
NO_RETRY = "do_not_retry"
NONE = "none"

CALLEE = "callee"
CALLER = "caller"
CONFIG = "configuration"
CARRIER = "carrier_or_platform"

# --- SIP classes: (digit, name, meaning from the doc, default retry advice, default responsibility)
# A final 3xx means a redirect the carrier did not follow: a routing matter, worth retrying later.
SIP_CLASSES: list[tuple[int, str, str, str, str]] = [
    (1, "Provisional Responses", "Indicates the request has been received and is being processed.", NONE, NONE),
    (2, "Success Responses", "Indicates the request was successful.", NONE, NONE),
    (
        3,
        "Redirection Responses",
        "Further action is needed to complete the request (typically forwarding scenarios).",
        LATER,
        CARRIER,
    ),
    (4, "Client Error Responses", "The request contains bad syntax or cannot be fulfilled by the server.", FIX, CONFIG),
    (5, "Server Error Responses", "Indicates a server-side issue prevented call completion.", BACKOFF, CARRIER),
    (6, "Global Failure Responses", "Indicates the call cannot be completed anywhere.", NO_RETRY, CALLEE),
]

# --- SIP codes: (code, reason phrase, description, common cause, retry advice, responsibility, explanation)
# "-" in the document's Common Cause column is stored as an empty string.
SIP_CODES: list[tuple[int, str, str, str, str, str, str]] = [
    # 1xx
    (100, "Trying", "Request received, processing continues", "", NONE, NONE,
     "The call request reached the network and is being routed. This is an interim step, not an outcome."),
    (180, "Ringing", "Destination is being alerted (phone is ringing)", "", NONE, NONE,
     "The destination phone is ringing. This is an interim step; the final result comes in a later event."),
    (181, "Call Is Being Forwarded", "Call is being forwarded to another destination", "", NONE, NONE,
     "The called number forwards its calls elsewhere and the network is following that forwarding. "
     "This is an interim step, not an outcome."),
    (182, "Queued", "Destination is temporarily unavailable, request queued", "", NONE, NONE,
     "The destination cannot take the call right now and has put it in a queue. "
     "This is an interim step; wait for the final result."),
    (183, "Session Progress", "Conveys information about the progress of a call", "", NONE, NONE,
     "The destination network is sending progress information, such as an early announcement or a ringback "
     "tone. This is an interim step, not an outcome."),
    # 2xx
    (200, "OK", "Request successful (call answered)", "", NONE, NONE,
     "The call was answered. 8x8 also sends 200 on many intermediate events, where it only means that step "
     "succeeded."),
    (202, "Accepted", "Request accepted for processing, but processing not complete", "", NONE, NONE,
     "The request was accepted and is still being processed. Nothing went wrong; wait for the final result."),
    # 3xx
    (300, "Multiple Choices", "Multiple options available for the requested resource", "", LATER, CARRIER,
     "The number resolved to several possible destinations and the network did not pick one, so the call was "
     "not connected. Try again later; if it keeps happening, send the session ID to 8x8 support."),
    (301, "Moved Permanently", "User can no longer be found at the original address", "", FIX, CALLEE,
     "The person called is no longer reachable at this number; the network reported a new address instead "
     "of connecting. Update the number before calling again."),
    (302, "Moved Temporarily", "User temporarily moved to a different address", "", LATER, CALLEE,
     "The person called is temporarily reachable somewhere else and the network did not follow the "
     "redirection. Trying again later usually works."),
    (305, "Use Proxy", "Requested resource must be accessed through a proxy", "", LATER, CARRIER,
     "The destination asked for the call to be routed through a different proxy, which the carrier did not "
     "do. This is a routing issue between networks; try again later and escalate to 8x8 if it persists."),
    (380, "Alternative Service", "Call failed but alternative services are available", "", NO_RETRY, CARRIER,
     "The call failed and the destination network offered a different kind of service instead. Repeating the "
     "same call will not help."),
    # 4xx
    (400, "Bad Request", "Malformed request syntax", "Malformed number or SIP headers", FIX, CONFIG,
     "The call request was malformed, usually because the phone number or a SIP header is badly formatted. "
     "Correct the number (E.164, e.g. +14155551234) before trying again."),
    (401, "Unauthorized", "Authentication required", "Invalid credentials", FIX, CONFIG,
     "The call was refused because authentication failed. Check the credentials configured for the account "
     "or SIP trunk; retrying with the same credentials will fail again."),
    (402, "Payment Required", "Reserved for future use (billing/prepaid scenarios)", "", FIX, CONFIG,
     "The call was refused for a billing reason, for example an exhausted prepaid balance. Check the "
     "account's billing status before trying again."),
    (403, "Forbidden", "Server refuses to authorize the request",
     "Unauthorized Caller ID or restricted destination", FIX, CONFIG,
     "The network refused to place this call, most often because the caller ID is not authorised or the "
     "destination is restricted for this account. Check the caller ID and the destination country first."),
    (404, "Not Found", "User does not exist at the domain specified", "Invalid phone number", FIX, CONFIG,
     "The number called does not exist. Check that it is complete and in E.164 format with the right "
     "country code."),
    (405, "Method Not Allowed", "Request method not supported for the target", "", FIX, CARRIER,
     "The destination does not accept the kind of signalling message it received. This is a compatibility "
     "problem between networks, not something the caller did; send the session ID to 8x8 support."),
    (406, "Not Acceptable", "Response doesn't match acceptable values in request headers", "", FIX, CARRIER,
     "The destination could not answer in any form the request allowed. This is a signalling compatibility "
     "problem; retrying unchanged will not help, so send the session ID to 8x8 support."),
    (407, "Proxy Authentication Required", "Client must authenticate with a proxy", "", FIX, CONFIG,
     "A proxy on the route required authentication that the call did not provide. Check the proxy or trunk "
     "credentials configured for the account."),
    (408, "Request Timeout", "Server did not receive a complete request in time",
     "Network issues or destination unreachable", LATER, CARRIER,
     "The destination did not respond in time, usually because of a network problem or because it is "
     "unreachable. Trying again later often works; if it happens for many numbers, escalate to 8x8."),
    (410, "Gone", "User previously existed but is no longer available", "Number disconnected", FIX, CONFIG,
     "The number used to exist but is no longer in service. Remove or update it; retrying will not help."),
    (413, "Request Entity Too Large", "Request body is larger than the server is willing to process", "",
     FIX, CARRIER,
     "The call setup message was larger than the destination accepts. This is a signalling problem between "
     "networks; send the session ID to 8x8 support."),
    (414, "Request-URI Too Long", "Request-URI is longer than the server can interpret", "", FIX, CONFIG,
     "The destination address was too long to be processed. Check that the number called is a plain phone "
     "number without extra characters."),
    (415, "Unsupported Media Type", "Message body format is not supported", "Codec incompatibility", FIX, CONFIG,
     "The destination could not handle the media format offered, typically a codec it does not support. "
     "Check the codec settings (8x8 supports G.711 µ-law, G.711 A-law and G.722)."),
    (416, "Unsupported URI Scheme", "Request-URI scheme is not recognized", "", FIX, CONFIG,
     "The destination address used a scheme the network does not recognise (it expects sip:, sips: or tel:). "
     "Correct the destination address before trying again."),
    (420, "Bad Extension", "Server did not understand a required protocol extension", "", FIX, CARRIER,
     "The destination did not understand a SIP protocol extension the call required. This is a compatibility "
     "issue between networks; send the session ID to 8x8 support."),
    (421, "Extension Required", "Server requires a specific extension not listed in request", "", FIX, CARRIER,
     "The destination requires a SIP protocol extension the call did not offer. This is a compatibility issue "
     "between networks; send the session ID to 8x8 support."),
    (423, "Interval Too Brief", "Expiration time is too short", "", FIX, CONFIG,
     "A timer in the request, such as a registration expiry, was shorter than the server allows. SIP trunk "
     "customers should raise the expiry configured on their PBX."),
    (480, "Temporarily Unavailable", "Callee's endpoint is currently unavailable",
     "Device offline or out of coverage", LATER, CALLEE,
     "The phone called was not reachable at that moment, for example switched off or out of coverage. "
     "Nothing is wrong with the request; try again later."),
    (481, "Call/Transaction Does Not Exist",
     "Server received a request that doesn't match any dialog or transaction", "", FIX, CARRIER,
     "A message arrived for a call the other side no longer knew about, usually a timing problem between "
     "networks. If it keeps happening, send the session ID to 8x8 support."),
    (482, "Loop Detected", "Server detected a loop in the request routing", "", FIX, CARRIER,
     "The call was routed in a circle between networks and was stopped. This is a carrier routing problem; "
     "send the session ID to 8x8 support."),
    (483, "Too Many Hops", "Max-Forwards header reached zero", "", FIX, CARRIER,
     "The call passed through too many networks before reaching the destination, which usually means a "
     "routing loop. Send the session ID to 8x8 support."),
    (484, "Address Incomplete", "Request-URI is incomplete", "", FIX, CONFIG,
     "The number called is incomplete, for example missing digits or the country code. Correct it to full "
     "E.164 format before trying again."),
    (485, "Ambiguous", "Request-URI is ambiguous", "", FIX, CONFIG,
     "The number called matches more than one destination, so the network could not tell which was meant. "
     "Use the full number in E.164 format."),
    (486, "Busy Here", "Callee's endpoint is busy (user declined or DND enabled)", "Line in use", LATER, CALLEE,
     "The person called was busy: the line was in use, or they declined the call or have Do Not Disturb on. "
     "Nothing is wrong with the setup; try again later."),
    (487, "Request Terminated", "Request cancelled before completion (caller hung up during ringing)",
     "Caller hung up before answer", LATER, CALLER,
     "The caller hung up, or the call was cancelled, before it was answered. This is normal caller "
     "behaviour, not a fault."),
    (488, "Not Acceptable Here", "Some aspect of the session description is not acceptable", "SDP/codec mismatch",
     FIX, CONFIG,
     "The destination rejected the call's media settings, usually because no common codec could be agreed. "
     "Check the codec configuration; retrying unchanged will fail again."),
    (491, "Request Pending", "Server has a pending request from the same dialog", "", LATER, CARRIER,
     "The other side was still handling an earlier request in the same call, and this one collided with it. "
     "It is a short-lived race; retrying after a moment normally succeeds."),
    (493, "Undecipherable", "Request contains an encrypted body that cannot be decrypted", "", FIX, CARRIER,
     "The destination could not decrypt an encrypted part of the call setup. This is a security settings "
     "mismatch between networks; send the session ID to 8x8 support."),
    # 5xx
    (500, "Server Internal Error", "Unexpected server error", "Temporary system issue", BACKOFF, CARRIER,
     "A server on the route hit a temporary internal error. Retry with increasing pauses; if it persists, "
     "contact 8x8 CPaaS support."),
    (501, "Not Implemented", "Server does not support the functionality required", "", BACKOFF, CARRIER,
     "A server on the route does not support something the call needed. Retry with increasing pauses; if it "
     "repeats for the same destination, escalate to 8x8 support."),
    (502, "Bad Gateway", "Invalid upstream response", "Carrier connectivity issue", BACKOFF, CARRIER,
     "A server on the route got an invalid answer from the next network, usually a carrier connectivity "
     "problem. Retry with increasing pauses; escalate to 8x8 if it persists."),
    (503, "Service Unavailable", "Service temporarily unavailable", "System maintenance or capacity", BACKOFF,
     CARRIER,
     "The service was temporarily unavailable, for example during maintenance or at full capacity. Retry with "
     "increasing pauses; escalate to 8x8 if it persists."),
    (504, "Server Timeout", "Upstream timeout", "Carrier response delay", BACKOFF, CARRIER,
     "A server on the route waited too long for the next network to answer, usually a carrier delay. Retry "
     "with increasing pauses; escalate to 8x8 if it persists."),
    (505, "Version Not Supported", "SIP protocol version is not supported", "", BACKOFF, CARRIER,
     "A server on the route does not support the SIP version used. This is an interoperability problem between "
     "networks; if retries keep failing, send the session ID to 8x8 support."),
    (513, "Message Too Large", "Message length exceeds server capabilities", "", BACKOFF, CARRIER,
     "The call setup message was larger than a server on the route can handle. If retries keep failing, send "
     "the session ID to 8x8 support."),
    # 6xx
    (600, "Busy Everywhere", "All destinations busy", "No available endpoints", NO_RETRY, CALLEE,
     "The person called is busy on every device and signalled that they cannot take calls now. Do not redial "
     "automatically; try again at another time."),
    (603, "Decline", "Call declined", "Recipient rejected the call", NO_RETRY, CALLEE,
     "The person called rejected the call. That is their choice, not a fault; do not redial automatically."),
    (604, "Does Not Exist Anywhere", "Destination invalid globally", "Number does not exist", NO_RETRY, CONFIG,
     "The number called does not exist on any network. Check the number; retrying will not help."),
    (606, "Not Acceptable", "Call parameters rejected", "Incompatible session requirements", NO_RETRY, CONFIG,
     "The destination could not accept the call's parameters, such as its media or codec requirements, "
     "anywhere. Retrying unchanged will not help; check the configuration."),
]  # fmt: skip

# --- VSS sessionStatus: (code, description, products); blank products means every product documents it.
SESSION_STATUSES: list[tuple[str, str, str]] = [
    ("COMPLETED", "Session was connected and completed successfully", ""),
    ("NO_ANSWER", "Call rang but was not answered", ""),
    ("BUSY", "Destination was busy", ""),
    ("CANCELED", "Call was cancelled before connection", ""),
    ("FAILED", "Call could not be completed", ""),
    ("ERROR", "An error occurred during the session", ""),
    ("COMPLETED_UNSUBSCRIBED", "Session completed and the user opted out (unsubscribed)", "Voice Messaging"),
    (
        "COMPLETED_UNSUB_ERROR",
        "Session completed, but an error occurred while adding the number to the blacklist",
        "Voice Messaging",
    ),
    (
        "UNSUBSCRIBED_CONTACT",
        "The number is already on the blacklist (the contact opted out earlier)",
        "Voice Messaging",
    ),
]

# --- VSS leg callStatus: (code, description, session_level_only)
LEG_STATUSES: list[tuple[str, str, bool]] = [
    ("COMPLETED", "Call leg was connected and completed successfully", False),
    ("NO_ANSWER", "Call leg rang but was not answered", False),
    ("BUSY", "Destination was busy", False),
    ("CANCELED", "Call leg was cancelled before connection", False),
    ("FAILED", "Call leg could not be completed", False),
    (
        "ERROR",
        "An error occurred on the call leg. Documented as a session status only, but 8x8's Voice Messaging and "
        "Number Masking failure examples send it on legs: accepted and flagged.",
        True,
    ),
]

# --- 8x8 voice error codes (VSS errorDetails.errorCode): (code, message, guidance, retry advice, responsibility)
VOICE_ERROR_CODES: list[tuple[int, str, str, str, str]] = [
    (-2001, "An internal error has occurred",
     "An error inside the 8x8 platform stopped the call flow. Nothing in the request needs to change: retry "
     "later, and if it keeps happening send the session ID to 8x8 CPaaS support.", LATER, CARRIER),
    (-2002, "An internal connectivity error has occurred",
     "8x8 lost connectivity between its own systems while running the call flow. Retry later; escalate to 8x8 "
     "CPaaS support with the session ID if it persists.", LATER, CARRIER),
    (-2003, "The call flow provided is invalid",
     "The call flow sent to 8x8 was not valid (wrong actions, order or parameters). Fix the request against "
     "the Callflows API reference before sending it again.", FIX, CONFIG),
    (-2004, "No coverage available for requested area",
     "8x8 cannot reach this destination: the country or number range is not covered for the account. Retrying "
     "will not help; check the destination number, or ask 8x8 to enable coverage for that area.",
     NO_RETRY, CARRIER),
    # Text-to-speech failures are usually a passing outage of the speech service; invalid text or voice
    # settings are mostly refused synchronously (-1002, -1016), so the default is to retry later.
    (-2005, "Unable to synthesize text to speech",
     "8x8's text-to-speech service could not produce the prompt. This is usually temporary: retry later. If "
     "the same text fails again, check its language, voice and special characters.", LATER, CARRIER),
    # A playFile URL that 8x8 cannot fetch is the customer's hosting or URL: retrying unchanged fails again.
    (-2006, "Unable to download file for playback",
     "8x8 could not download the audio file named in the playFile action. Check that the URL is correct, "
     "publicly reachable without a login and serves a supported audio format, then send the request again.",
     FIX, CONFIG),
    # The same request would expire again; a new one (with a longer validity window) is needed.
    (-2007, "The validity period of the call flow request has expired",
     "The call flow could not start before its validity period ended, so 8x8 dropped it. Send a new request, "
     "with a longer validity window if one was set; if requests with a reasonable window expire, escalate to "
     "8x8 as a platform delay.", FIX, CONFIG),
    (-2008, "The provided source MSISDN or caller ID is not whitelisted",
     "The caller ID (source number) is not one this account may present. Use a verified 8x8 virtual number as "
     "caller ID, or ask 8x8 to whitelist the number, before trying again.", FIX, CONFIG),
    (-2009, "The scenario parameters provided is invalid",
     "The parameters given for the scenario were not valid. Correct them before sending the request again.",
     FIX, CONFIG),
    (-2010, "The trunk capacity has been exceeded",
     "The account reached its limit of simultaneous calls. Retry later once calls have finished, pace outgoing "
     "calls, or ask 8x8 to raise the capacity.", LATER, CONFIG),
    # Unknown to 8x8 as well: one later retry is cheap, and a repeat needs 8x8 to look at their logs.
    (-9999, "An unknown error has occurred",
     "8x8 reported an error it could not classify. Retry later; if it happens again, send the session ID to "
     "8x8 CPaaS support so they can look it up.", LATER, CARRIER),
]  # fmt: skip

# --- SIP codes of the IANA registry the 8x8 document lacks (issue 10), same shape as SIP_CODES.
# Seeded by migration 0004. 199 is provisional (never a failure cause); 607/608 are verdicts of
# call analytics or a network intermediary on the caller ID, not the callee's behaviour.
IANA_SIP_CODES: list[tuple[int, str, str, str, str, str, str]] = [
    (199, "Early Dialog Terminated", "An early dialog was terminated before the call was answered (RFC 6228)", "",
     NONE, NONE,
     "One of several parallel attempts to reach the destination was dropped while another continued. This is "
     "an interim step, never the reason a call failed; wait for the final result."),
    (204, "No Notification", "Request successful, but no notification will be sent (RFC 5839)", "", NONE, NONE,
     "The request succeeded; the other side simply has nothing new to report. Nothing went wrong."),
    (412, "Conditional Request Failed", "The precondition given in the request has failed (RFC 3903)", "",
     FIX, CARRIER,
     "A conditional signalling request did not apply because the state it referred to had changed. This is a "
     "signalling matter between networks; if calls fail with it, send the session ID to 8x8 support."),
    (417, "Unknown Resource-Priority", "The Resource-Priority header was not understood (RFC 4412)", "",
     FIX, CONFIG,
     "The call asked for a priority level the destination network does not know. Remove or correct the "
     "priority settings on the trunk before trying again."),
    (422, "Session Interval Too Small", "The session timer interval is below the server's minimum (RFC 4028)", "",
     FIX, CARRIER,
     "The networks could not agree on how often to refresh the call. This is a session-timer setting between "
     "carriers or a SIP trunk; send the session ID to 8x8 support, or raise the session timer on your PBX."),
    (424, "Bad Location Information", "The location information in the request was malformed or unsatisfactory "
     "(RFC 6442)", "", FIX, CONFIG,
     "The caller location sent with the call (used for emergency routing) was not acceptable. Check the "
     "location data configured for the trunk or caller."),
    (425, "Bad Alert Message", "The Alert-Info header is not acceptable (RFC 8876)", "", FIX, CARRIER,
     "The destination rejected the alerting information attached to the call. This is a signalling "
     "compatibility issue; send the session ID to 8x8 support."),
    (428, "Use Identity Header", "The server requires a signed caller identity (Identity header) (RFC 8224)", "",
     FIX, CONFIG,
     "The destination network only accepts calls whose caller ID is cryptographically signed (STIR/SHAKEN). "
     "Use a verified 8x8 virtual number as caller ID so the call can be signed."),
    (429, "Provide Referrer Identity", "The referrer's identity must be provided (RFC 3892)", "", FIX, CARRIER,
     "A call transfer was refused because it did not say who asked for the transfer. This is a signalling "
     "matter between networks; send the session ID to 8x8 support."),
    (430, "Flow Failed", "A specific connection flow to a user agent has failed (RFC 5626)", "", LATER, CARRIER,
     "The network connection to the destination device broke. It usually recovers on its own; try again later."),
    (433, "Anonymity Disallowed", "The destination refuses anonymous calls (RFC 5079)", "", FIX, CONFIG,
     "The person called does not accept calls with a hidden caller ID. Present a caller ID (a verified 8x8 "
     "virtual number) and call again."),
    (436, "Bad Identity Info", "The Identity header's info could not be used (RFC 8224)", "", FIX, CONFIG,
     "The destination could not check the caller ID signature. Check the caller ID used; if it is an 8x8 "
     "virtual number, send the session ID to 8x8 support."),
    (437, "Unsupported Credential", "The certificate signing the caller identity is not accepted (RFC 8224)", "",
     FIX, CONFIG,
     "The destination does not trust the certificate that signed the caller ID. Check the caller ID used; if it "
     "is an 8x8 virtual number, send the session ID to 8x8 support."),
    (438, "Invalid Identity Header", "The signed caller identity is invalid (RFC 8224)", "", FIX, CONFIG,
     "The caller ID signature did not match the call. Make sure the caller ID is a number this account may "
     "present (a verified 8x8 virtual number)."),
    (439, "First Hop Lacks Outbound Support", "The first hop does not support SIP outbound (RFC 5626)", "",
     FIX, CARRIER,
     "A proxy on the route lacks a connection feature the call needed. This is a routing matter between "
     "networks; send the session ID to 8x8 support."),
    (440, "Max-Breadth Exceeded", "The request forked to too many destinations (RFC 5393)", "", FIX, CARRIER,
     "The call was copied to more parallel destinations than the network allows. This is a routing problem; "
     "send the session ID to 8x8 support."),
    (469, "Bad Info Package", "The INFO package is not supported by the recipient (RFC 6086)", "", FIX, CARRIER,
     "A mid-call message (for example DTMF sent as SIP INFO) was of a kind the other side does not support. "
     "Check the DTMF mode of a SIP trunk, or send the session ID to 8x8 support."),
    (470, "Consent Needed", "The recipient has not consented to receive the request (RFC 5360)", "",
     FIX, CONFIG,
     "The destination requires consent before it accepts this request. Obtain the recipient's consent "
     "before trying again."),
    (489, "Bad Event", "The event package in the request is not understood (RFC 6665)", "", FIX, CARRIER,
     "The other side does not support the kind of event subscription requested. This is a signalling "
     "compatibility issue; send the session ID to 8x8 support."),
    (494, "Security Agreement Required", "A security mechanism must be agreed first (RFC 3329)", "", FIX, CARRIER,
     "The network required a security agreement before accepting the call. This is a configuration matter "
     "between networks; send the session ID to 8x8 support."),
    (555, "Push Notification Service Not Supported", "The push notification service is not supported (RFC 8599)",
     "", BACKOFF, CARRIER,
     "The destination's app could not be woken by a push notification through the service used. Retry with "
     "increasing pauses; escalate to 8x8 if it persists."),
    (580, "Precondition Failure", "A required precondition (e.g. media resources) could not be met (RFC 3312)",
     "", BACKOFF, CARRIER,
     "The network could not reserve what the call needed (for example media resources) before ringing. Retry "
     "with increasing pauses; escalate to 8x8 if it persists."),
    (607, "Unwanted", "The called party or their service marked the call as unwanted (RFC 8197)",
     "Caller ID reputation (spam labelling)", NO_RETRY, CARRIER,
     "The call was refused as unwanted, typically by spam-call filtering on the destination's side. This "
     "is not the callee picking up or declining; it is about the caller ID's reputation. Do not redial "
     "automatically; check the caller ID and calling patterns, and ask 8x8 about the number's reputation."),
    (608, "Rejected", "An intermediary (e.g. call analytics) rejected the call (RFC 8688)",
     "Call analytics or network policy", NO_RETRY, CARRIER,
     "A network in the path, not the person called, rejected the call, usually call-analytics software judging "
     "the caller ID. Do not redial automatically; check the caller ID and ask 8x8 to look into the block."),
]  # fmt: skip

# --- 8x8 Callflows API status codes (the synchronous response; docs/8x8-webhooks.md §6.2). Kept with the
# voice error codes because 8x8's Webhooks Overview says a failed call can also arrive as a session
# summary carrying one (its example: -1004). All but "Created" mean the request was invalid.
_FIX_CALLFLOW = "The Callflows API refused the request, so no call was placed. Fix the request, then send it again."
CALLFLOWS_STATUS_CODES: list[tuple[int, str, str, str, str]] = [
    (1, "Created", "The call flow request was accepted and the session created. Not an error.", NONE, NONE),
    (-1001, "Invalid JSON request body", f"{_FIX_CALLFLOW} The body is not valid JSON.", FIX, CONFIG),
    (-1002, "Speech profile or language parameter invalid",
     f"{_FIX_CALLFLOW} Use a voice profile / language 8x8 supports.", FIX, CONFIG),
    (-1003, "Valid maxDigits required when minDigits provided",
     f"{_FIX_CALLFLOW} Give maxDigits whenever minDigits is set.", FIX, CONFIG),
    (-1004, "DTMF callback url not provided",
     f"{_FIX_CALLFLOW} A call flow that captures digits needs a dtmfCallbackUrl.", FIX, CONFIG),
    (-1005, "Valid overallTimeout is required when digitTimeout provided",
     f"{_FIX_CALLFLOW} Give overallTimeout whenever digitTimeout is set.", FIX, CONFIG),
    (-1006, "OverallTimeout should be greater than digitTimeout",
     f"{_FIX_CALLFLOW} Make overallTimeout larger than digitTimeout.", FIX, CONFIG),
    (-1007, "Invalid action type was used",
     f"{_FIX_CALLFLOW} Accepted actions: say, sayAndCapture, makeCall, hangup, playFile.", FIX, CONFIG),
    (-1008, "Valid maxDigits is required when completeOnHash is false",
     f"{_FIX_CALLFLOW} Give maxDigits when completeOnHash is false.", FIX, CONFIG),
    (-1009, "Invalid call flow entry provided",
     f"{_FIX_CALLFLOW} A call flow entry is missing a required parameter or has a wrong one; 8x8's message names "
     "it.", FIX, CONFIG),
    (-1010, "Some actions are provided beyond the allowed count",
     f"{_FIX_CALLFLOW} Use fewer actions in one call flow.", FIX, CONFIG),
    (-1011, "Multiple destination phone numbers found in the request",
     f"{_FIX_CALLFLOW} Send one destination per request.", FIX, CONFIG),
    (-1012, "Invalid Callflow : Incorrect use of action Hangup",
     f"{_FIX_CALLFLOW} Hangup must be the last action.", FIX, CONFIG),
    (-1013, "Invalid Callflow : First action should be a MakeCall action",
     f"{_FIX_CALLFLOW} Start the call flow with makeCall.", FIX, CONFIG),
    (-1014, "Source or caller ID is not allowed",
     f"{_FIX_CALLFLOW} Use a verified 8x8 virtual number as the source, or ask 8x8 to allow it.", FIX, CONFIG),
    (-1015, "The validity period of the call flow request has expired",
     f"{_FIX_CALLFLOW} Send a new request with a validity window in the future.", FIX, CONFIG),
    (-1016, "Invalid Callflow Content: Some special characters are invalid/unaccepted",
     f"{_FIX_CALLFLOW} Remove the unsupported characters from the text.", FIX, CONFIG),
    (-1017, "Invalid MSISDN format in Destination",
     f"{_FIX_CALLFLOW} Use E.164 for the destination (e.g. +14155551234).", FIX, CONFIG),
    (-1018, "Invalid Callflow",
     f"{_FIX_CALLFLOW} An executeScenario action cannot be combined with other actions.", FIX, CONFIG),
    (-1019, "Invalid Callflow Content: scenarioName is null or empty",
     f"{_FIX_CALLFLOW} Give the scenarioName.", FIX, CONFIG),
    (-1020, "Invalid Callflow: Invalid scenarioName or the account doesn't have permission to execute this scenario",
     f"{_FIX_CALLFLOW} Check the scenario name, or ask 8x8 to enable the scenario for the account.", FIX, CONFIG),
]  # fmt: skip

# --- Troubleshooting: (issue, possible SIP codes, action); links in the doc kept as plain text.
TROUBLESHOOTING: list[tuple[str, tuple[int, ...], str]] = [
    ("Call not connecting", (480, 408, 487), "Check destination availability and number validity"),
    ("Call rejected immediately", (403, 603), "Verify caller ID, check if number is blocked"),
    ("Invalid number format", (404, 484), "Validate E.164 format, ensure country code is correct"),
    (
        "Network/routing issues",
        (500, 502, 503, 504),
        "Contact 8x8 CPaaS Support (support@cpaas.8x8.com) if persistent",
    ),
    ("Call drops during ringing", (487,), "Normal user behavior (caller hung up)"),
]

# --- Best practices: (topic, text), one row per bullet of the doc; markdown code marks removed.
BEST_PRACTICES: list[tuple[str, str]] = [
    ("Number Formatting", "Use E.164 format for all phone numbers (e.g., +14155551234)"),
    ("Number Formatting", "Include the + prefix and country code"),
    ("Caller ID (CLI)", "Use a verified 8x8 virtual number as your Caller ID"),
    ("Caller ID (CLI)", "Ensure CLI is authorized for the destination country"),
    ("Error Handling", "Implement retry logic with exponential backoff for 5xx errors"),
    ("Error Handling", "Do not retry 4xx errors without correcting the request"),
    ("Error Handling", "Log SIP response codes for troubleshooting"),
    ("Codec Support", "G.711 µ-law (PCMU)"),
    ("Codec Support", "G.711 A-law (PCMA)"),
    ("Codec Support", "G.722"),
    ("Codec Support", "Opus (coming soon)"),
]

# --- Groups. Reference editors may add (8x8 starts sending a new code), change and view every
# reference row, but not delete: classifications point at codes, and deleting is a superuser's call.
EDITOR_GROUP = "Reference editors"
SUPPORT_GROUP = "Support"
EDITOR_ACTIONS = ("add", "change", "view")


def seed_all(apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create every missing reference row and group; never touch existing ones."""
    seed_reference(apps, using)
    seed_groups(apps, using)
    seed_complete_reference(apps, using)


def seed_reference(apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    SipClass = apps.get_model("reference", "SipClass")
    SipCode = apps.get_model("reference", "SipCode")
    SessionStatus = apps.get_model("reference", "SessionStatus")
    LegStatus = apps.get_model("reference", "LegStatus")
    VoiceErrorCode = apps.get_model("reference", "VoiceErrorCode")
    TroubleshootingEntry = apps.get_model("reference", "TroubleshootingEntry")
    BestPractice = apps.get_model("reference", "BestPractice")

    _create_missing(
        SipClass,
        "digit",
        using,
        [
            {"digit": d, "name": n, "meaning": m, "default_retry_advice": r, "default_responsibility": s}
            for d, n, m, r, s in SIP_CLASSES
        ],
    )
    _create_missing(
        SipCode,
        "code",
        using,
        [
            {
                "code": code,
                "sip_class_id": code // 100,
                "reason_phrase": reason,
                "description": description,
                "common_cause": cause,
                "retry_advice": retry,
                "responsibility": resp,
                "explanation": explanation,
            }
            for code, reason, description, cause, retry, resp, explanation in SIP_CODES
        ],
    )
    _create_missing(
        SessionStatus,
        "code",
        using,
        [
            {"code": code, "description": d, "products": p, "position": i}
            for i, (code, d, p) in enumerate(SESSION_STATUSES, 1)
        ],
    )
    _create_missing(
        LegStatus,
        "code",
        using,
        [
            {"code": code, "description": d, "session_level_only": only, "position": i}
            for i, (code, d, only) in enumerate(LEG_STATUSES, 1)
        ],
    )
    _create_missing(
        VoiceErrorCode,
        "code",
        using,
        [
            {"code": code, "message": m, "guidance": g, "retry_advice": r, "responsibility": s}
            for code, m, g, r, s in VOICE_ERROR_CODES
        ],
    )

    # Troubleshooting rows need their ids for the code links, so missing ones go through
    # get_or_create (five rows at most); links are set only on creation, like every other field.
    existing_issues = set(TroubleshootingEntry.objects.using(using).values_list("issue", flat=True))
    for position, (issue, codes, action) in enumerate(TROUBLESHOOTING, 1):
        if issue in existing_issues:
            continue
        entry, created = TroubleshootingEntry.objects.using(using).get_or_create(
            issue=issue, defaults={"action": action, "position": position}
        )
        if created:
            entry.sip_codes.set(SipCode.objects.using(using).filter(code__in=codes))

    existing_practices = set(BestPractice.objects.using(using).values_list("topic", "text"))
    missing_practices = [
        BestPractice(topic=topic, text=text, position=position)
        for position, (topic, text) in enumerate(BEST_PRACTICES, 1)
        if (topic, text) not in existing_practices
    ]
    BestPractice.objects.using(using).bulk_create(missing_practices, ignore_conflicts=True)


def seed_complete_reference(apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    """Migration 0004: the IANA SIP codes and the Callflows status codes; only missing rows are created."""
    SipCode = apps.get_model("reference", "SipCode")
    VoiceErrorCode = apps.get_model("reference", "VoiceErrorCode")
    _create_missing(
        SipCode,
        "code",
        using,
        [
            {
                "code": code,
                "sip_class_id": code // 100,
                "reason_phrase": reason,
                "description": description,
                "common_cause": cause,
                "retry_advice": retry,
                "responsibility": resp,
                "explanation": explanation,
            }
            for code, reason, description, cause, retry, resp, explanation in IANA_SIP_CODES
        ],
    )
    _create_missing(
        VoiceErrorCode,
        "code",
        using,
        [
            {"code": code, "message": m[:200], "guidance": g, "retry_advice": r, "responsibility": s}
            for code, m, g, r, s in CALLFLOWS_STATUS_CODES
        ],
    )


# The leg ERROR row's text as seeded by 0002, and what it says now (issue 10): migration 0004
# replaces it only if nobody edited it. (A fresh seed keeps 0002's text: seed_all stays cheap.)
LEG_ERROR_OLD = next(d for code, d, _ in LEG_STATUSES if code == "ERROR")
LEG_ERROR_NEW = (
    "An error occurred on the call leg. Normal in Voice Messaging and Number Masking failure summaries "
    "(their pages show it); the IVR page documents ERROR as a session status only, so an IVR leg in "
    "ERROR is flagged."
)


def update_leg_error_text(apps: Any, using: str, old: str, new: str) -> None:
    apps.get_model("reference", "LegStatus").objects.using(using).filter(code="ERROR", description=old).update(
        description=new
    )


def unseed_complete_reference(apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    get = apps.get_model
    get("reference", "SipCode").objects.using(using).filter(code__in=[row[0] for row in IANA_SIP_CODES]).delete()
    get("reference", "VoiceErrorCode").objects.using(using).filter(
        code__in=[row[0] for row in CALLFLOWS_STATUS_CODES]
    ).delete()


def unseed_reference(apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    """Reverse of seed_reference: delete the seeded rows by natural key (admin-added rows stay)."""
    get = apps.get_model
    get("reference", "TroubleshootingEntry").objects.using(using).filter(
        issue__in=[issue for issue, _, _ in TROUBLESHOOTING]
    ).delete()
    BestPractice = get("reference", "BestPractice")
    for topic, text in BEST_PRACTICES:
        BestPractice.objects.using(using).filter(topic=topic, text=text).delete()
    get("reference", "VoiceErrorCode").objects.using(using).filter(
        code__in=[row[0] for row in VOICE_ERROR_CODES]
    ).delete()
    get("reference", "LegStatus").objects.using(using).filter(code__in=[row[0] for row in LEG_STATUSES]).delete()
    get("reference", "SessionStatus").objects.using(using).filter(
        code__in=[row[0] for row in SESSION_STATUSES]
    ).delete()
    get("reference", "SipCode").objects.using(using).filter(code__in=[row[0] for row in SIP_CODES]).delete()
    # A class still holding an admin-added code is protected; leave it (dropping the table removes it).
    get("reference", "SipClass").objects.using(using).filter(
        digit__in=[row[0] for row in SIP_CLASSES], codes__isnull=True
    ).delete()


def seed_groups(apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the two groups with their permissions; an existing group is left exactly as it is."""
    Group = apps.get_model("auth", "Group")
    existing = set(
        Group.objects.using(using).filter(name__in=[EDITOR_GROUP, SUPPORT_GROUP]).values_list("name", flat=True)
    )
    missing = [name for name in (EDITOR_GROUP, SUPPORT_GROUP) if name not in existing]
    if not missing:
        return
    wanted = group_permissions(apps)
    permission_ids = _permission_ids(apps, using, set().union(*wanted.values()))
    for name in missing:
        group, created = Group.objects.using(using).get_or_create(name=name)
        if created:
            group.permissions.set([permission_ids[key] for key in sorted(wanted[name])])


def unseed_groups(apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    apps.get_model("auth", "Group").objects.using(using).filter(name__in=[EDITOR_GROUP, SUPPORT_GROUP]).delete()


def group_permissions(apps: Any) -> dict[str, set[tuple[str, str]]]:
    """(app_label, codename) of every permission each group gets, from the models in ``apps``."""
    reference_models = [m._meta.model_name for m in apps.get_app_config("reference").get_models()]
    classify_models = [m._meta.model_name for m in apps.get_app_config("classify").get_models()]
    editors = {("reference", f"{action}_{model}") for model in reference_models for action in EDITOR_ACTIONS}
    support = {("reference", f"view_{model}") for model in reference_models}
    support |= {("classify", f"view_{model}") for model in classify_models}
    support.add(("webhooks", "view_rawevent"))
    return {EDITOR_GROUP: editors, SUPPORT_GROUP: support}


def _create_missing(model: Any, key: str, using: str, rows: list[dict[str, Any]]) -> None:
    """get_or_create for a whole table: one query for the existing keys, one insert for the rest.

    ignore_conflicts covers a row created concurrently between the two; it is never updated."""
    existing = set(model.objects.using(using).values_list(key, flat=True))
    missing = [model(**row) for row in rows if row[key] not in existing]
    if missing:
        model.objects.using(using).bulk_create(missing, ignore_conflicts=True)


def _permission_ids(apps: Any, using: str, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of the wanted permissions, creating them first when post_migrate has not run yet
    (a fresh database migrates everything before any permission exists)."""
    Permission = apps.get_model("auth", "Permission")
    labels = sorted({label for label, _ in wanted})

    def load() -> dict[tuple[str, str], int]:
        rows = Permission.objects.using(using).filter(content_type__app_label__in=labels)
        return {
            (label, codename): pk
            for pk, label, codename in rows.values_list("pk", "content_type__app_label", "codename")
        }

    found = load()
    if wanted - found.keys():
        _create_permissions(apps, using, labels)
        found = load()
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"permissions missing for the sipdesk groups: {sorted(missing)}")
    return found


def _create_permissions(apps: Any, using: str, labels: list[str]) -> None:
    from django.contrib.auth.management import create_permissions

    for label in labels:
        app_config = apps.get_app_config(label)
        # Historical app configs have no models module and create_permissions would skip them:
        # the well-known trick is to pretend for the duration of the call.
        stub = getattr(app_config, "models_module", None) is None
        if stub:
            app_config.models_module = True
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            if stub:
                app_config.models_module = None
