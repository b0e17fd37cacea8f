// `--name=` with nothing after the '=' for the programs that parse their flags with
// CLI11, which reads it as the flag without a value and takes the next argument as its
// value (so `--mutation_backend= --verdicts_out=F` would set the mutation backend to
// "--verdicts_out=F"). Where an empty value means something, say so first:
//
//   std::vector<char*> args = TakeEmptyFlagValues(argc, argv, {{"--mutation_backend", &m}});
//   app.parse(static_cast<int>(args.size()), args.data());
//   KeepRemaining(app.remaining(), &argc, argv);   // what is left, for the next parser
#pragma once

#include <map>
#include <string>
#include <vector>

namespace isobench::harness {

// argv without the `--name=` arguments of the flags in `targets`, whose strings it
// clears (the last occurrence of a flag, empty or not, still wins: CLI11 runs after).
std::vector<char*> TakeEmptyFlagValues(int argc, char** argv,
                                       const std::map<std::string, std::string*>& targets);

// After a CLI11 parse with allow_extras(): argv becomes argv[0] and the arguments CLI11
// left (`remaining`, copies of argv's strings), in their order and as argv's own
// pointers, for the next parser (GoogleTest, Google Benchmark); *argc shrinks to match.
void KeepRemaining(const std::vector<std::string>& remaining, int* argc, char** argv);

}  // namespace isobench::harness
