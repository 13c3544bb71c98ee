// A 64-byte-aligned scratch array that grows on demand and is kept: the GEMMs' per-thread packing
// buffers (calls are frequent, so they are not freed between them).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace lg {

template <class T>
struct Scratch {
  T* p = nullptr;
  size_t cap = 0;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(p); }
  // At least n elements; the old contents are not kept.
  T* grow(size_t n) {
    if (n > cap) {
      std::free(p);
      p = static_cast<T*>(std::aligned_alloc(64, ((n * sizeof(T) + 63) / 64) * 64));
      if (p == nullptr) {
        cap = 0;
        throw std::bad_alloc();
      }
      cap = n;
    }
    return p;
  }
};

}  // namespace lg
