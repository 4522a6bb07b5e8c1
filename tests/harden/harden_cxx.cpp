// harden_cxx.cpp - the sized-delete mismatch of hardened_malloc's list:
// a Derived deleted through a Base pointer without a virtual destructor,
// so the compiler's sized operator delete passes sizeof(Base) for a block
// of sizeof(Derived).  Prints the pointer first (run_misuse.sh).
#include <cstdio>
#include <cstring>

#include "gh_api_test.h"

struct Base {
    char a[32];
};

struct Derived : Base {
    char b[32];
};

int main()
{
    gh_t_api();
    std::printf("%p\n", (void *)nullptr);
    std::fflush(stdout);
    Base *p = new Derived;
    std::memset(p, 0x3C, sizeof(Derived));
    std::printf("%p\n", (void *)p);
    std::fflush(stdout);
    delete p; // operator delete(p, sizeof(Base))
    std::printf("survived\n");
    return 0;
}
