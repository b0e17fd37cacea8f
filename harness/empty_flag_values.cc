#include "harness/empty_flag_values.h"

#include <string_view>

namespace isobench::harness {

std::vector<char*> TakeEmptyFlagValues(int argc, char** argv,
                                       const std::map<std::string, std::string*>& targets) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto target = i > 0 && arg.size() > 3 && arg.back() == '='
                      ? targets.find(std::string(arg.substr(0, arg.size() - 1)))
                      : targets.end();
    if (target != targets.end())
      target->second->clear();
    else
      args.push_back(argv[i]);
  }
  return args;
}

}  // namespace isobench::harness
