// Stand-in for ankerl::unordered_dense (header-only, not packaged by Debian 12): the API
// subset mediasoup uses (map, set, hash), on std::unordered_map / std::unordered_set.
// Correct but somewhat slower than the real thing; see README "Performance".
#ifndef MS_SHIM_ANKERL_UNORDERED_DENSE_H
#define MS_SHIM_ANKERL_UNORDERED_DENSE_H
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <unordered_set>
namespace ankerl
{
namespace unordered_dense
{
template<class T, class Enable = void>
struct hash
{
  using is_avalanching = void;
  uint64_t operator()(const T& v) const noexcept
  {
    // splitmix64 finaliser over std::hash, so small integers spread over buckets.
    uint64_t x = static_cast<uint64_t>(std::hash<T>{}(v)) + 0x9e3779b97f4a7c15ULL;
    x          = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x          = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
};
template<class Key, class T, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>, class... Rest>
using map = std::unordered_map<Key, T, Hash, KeyEqual>;
template<class Key, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>, class... Rest>
using set = std::unordered_set<Key, Hash, KeyEqual>;
} // namespace unordered_dense
} // namespace ankerl
#endif
