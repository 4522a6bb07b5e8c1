/* glassheap/policies.h - the placement policies, named once.
 *
 * Everything that lists the policies expands this table: the library's
 * discipline table and GLASSHEAP_POLICY parser, the glassheap command's
 * option parsers and help text, and the build (cmake/policies.cmake reads
 * the X(...) table into GH_POLICIES for the per-policy tests and checks the
 * joined forms below against it).  Adding a policy is one X(...) here, the
 * joined forms below, plus its discipline in alloc/.
 *
 *   X(name)  in the order tools list and compare them
 */
#ifndef GLASSHEAP_POLICIES_H
#define GLASSHEAP_POLICIES_H

#define GLASSHEAP_POLICIES(X) X(first) X(next) X(best) X(worst) X(buddy)

#define GLASSHEAP_POLICY_COUNT 5
/* The same names joined, for messages and usage lines. */
#define GLASSHEAP_POLICY_NAMES "first|next|best|worst|buddy"
#define GLASSHEAP_POLICY_LIST  "first, next, best, worst, buddy"
#define GLASSHEAP_POLICY_DEFAULT "best"

#endif
