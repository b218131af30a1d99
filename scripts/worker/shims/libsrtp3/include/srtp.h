// Compat <srtp.h>: the libsrtp 3.0 API that mediasoup 3.27 calls, mapped onto Debian 12's
// libsrtp 2.5. It is first on the include path of the libsrtp3 stand-in subproject.
// Covered by tests: PlainTransport SRTP loops (AES-CM and AES-GCM) and a real WebRTC peer.
#ifndef MS_SHIM_SRTP_COMPAT_H
#define MS_SHIM_SRTP_COMPAT_H
#include <srtp2/srtp.h>
#ifdef __cplusplus
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

// Error codes that only libsrtp 3 has (libsrtp 2 never returns them).
#define srtp_err_status_buffer_small (static_cast<srtp_err_status_t>(28))
#define srtp_err_status_cryptex_err (static_cast<srtp_err_status_t>(29))

// libsrtp 3 protects from an input buffer into an output buffer; libsrtp 2 works in place.
// *out_len is the capacity on the way in and the length on the way out.
#define MS_SHIM_SRTP_PROTECT(fn)                                                                 \
  inline srtp_err_status_t fn(                                                                   \
    srtp_t ctx, const uint8_t* in, size_t in_len, uint8_t* out, size_t* out_len, size_t mki)     \
  {                                                                                              \
    (void)mki; /* mediasoup never uses MKI */                                                    \
    if (in_len > static_cast<size_t>(INT_MAX - SRTP_MAX_TRAILER_LEN))                            \
      return srtp_err_status_bad_param;                                                          \
    if (*out_len < in_len + SRTP_MAX_TRAILER_LEN)                                                \
      return srtp_err_status_buffer_small;                                                       \
    if (out != in)                                                                               \
      std::memmove(out, in, in_len);                                                             \
    int len               = static_cast<int>(in_len);                                            \
    srtp_err_status_t err = ::fn(ctx, out, &len);                                                \
    if (err == srtp_err_status_ok)                                                               \
      *out_len = static_cast<size_t>(len);                                                       \
    return err;                                                                                  \
  }
#define MS_SHIM_SRTP_UNPROTECT(fn)                                                               \
  inline srtp_err_status_t fn(                                                                   \
    srtp_t ctx, const uint8_t* in, size_t in_len, uint8_t* out, size_t* out_len)                 \
  {                                                                                              \
    if (in_len > static_cast<size_t>(INT_MAX))                                                   \
      return srtp_err_status_bad_param;                                                          \
    if (*out_len < in_len)                                                                       \
      return srtp_err_status_buffer_small;                                                       \
    if (out != in)                                                                               \
      std::memmove(out, in, in_len);                                                             \
    int len               = static_cast<int>(in_len);                                            \
    srtp_err_status_t err = ::fn(ctx, out, &len);                                                \
    if (err == srtp_err_status_ok)                                                               \
      *out_len = static_cast<size_t>(len);                                                       \
    return err;                                                                                  \
  }
MS_SHIM_SRTP_PROTECT(srtp_protect)
MS_SHIM_SRTP_PROTECT(srtp_protect_rtcp)
MS_SHIM_SRTP_UNPROTECT(srtp_unprotect)
MS_SHIM_SRTP_UNPROTECT(srtp_unprotect_rtcp)
#undef MS_SHIM_SRTP_PROTECT
#undef MS_SHIM_SRTP_UNPROTECT

// libsrtp 3 renamed srtp_remove_stream() (ssrc in network byte order in both).
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
  return srtp_remove_stream(session, ssrc);
}

// libsrtp 3: srtp_policy_t is an opaque handle configured through setters. From here on the
// name means that handle; libsrtp 2's struct stays reachable as ms_srtp2_policy_t.
typedef srtp_policy_t ms_srtp2_policy_t;
struct ms_srtp3_policy
{
  ms_srtp2_policy_t p;
  uint8_t key[SRTP_MAX_KEY_LEN];
};
typedef ms_srtp3_policy* ms_srtp3_policy_t;
#define srtp_policy_t ms_srtp3_policy_t

inline srtp_err_status_t srtp_policy_create(ms_srtp3_policy_t* policy)
{
  *policy = new (std::nothrow) ms_srtp3_policy();
  return *policy ? srtp_err_status_ok : srtp_err_status_alloc_fail;
}
inline void srtp_policy_destroy(ms_srtp3_policy_t policy)
{
  delete policy;
}
inline srtp_err_status_t srtp_policy_set_ssrc(ms_srtp3_policy_t policy, srtp_ssrc_t ssrc)
{
  policy->p.ssrc = ssrc;
  return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_profile(ms_srtp3_policy_t policy, srtp_profile_t profile)
{
  srtp_err_status_t err = srtp_crypto_policy_set_from_profile_for_rtp(&policy->p.rtp, profile);
  if (err != srtp_err_status_ok)
    return err;
  return srtp_crypto_policy_set_from_profile_for_rtcp(&policy->p.rtcp, profile);
}
inline srtp_err_status_t srtp_policy_add_key(
  ms_srtp3_policy_t policy,
  const uint8_t* key,
  size_t key_len,
  const uint8_t* salt,
  size_t salt_len,
  const uint8_t* mki,
  size_t mki_len)
{
  if (mki || mki_len)
    return srtp_err_status_bad_param; // MKI is not bridged (mediasoup does not use it)
  if (key_len + salt_len > sizeof(policy->key))
    return srtp_err_status_bad_param;
  std::memcpy(policy->key, key, key_len);
  std::memcpy(policy->key + key_len, salt, salt_len);
  return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(ms_srtp3_policy_t policy, bool allow)
{
  policy->p.allow_repeat_tx = allow ? 1 : 0;
  return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_window_size(ms_srtp3_policy_t policy, size_t size)
{
  policy->p.window_size = static_cast<unsigned long>(size);
  return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_create(srtp_t* session, ms_srtp3_policy_t policy)
{
  policy->p.key  = policy->key;
  policy->p.next = nullptr;
  return ::srtp_create(session, &policy->p);
}
#endif // __cplusplus
#endif
