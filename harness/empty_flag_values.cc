#include "harness/empty_flag_values.h"

#include <string_view>
#include <utility>

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

void KeepRemaining(const std::vector<std::string>& remaining, int* argc, char** argv) {
  int kept = 1;
  for (const std::string& extra : remaining)
    for (int i = kept; i < *argc; ++i)
      if (extra == argv[i]) {
        std::swap(argv[kept++], argv[i]);
        break;
      }
  *argc = kept;
  argv[kept] = nullptr;
}

}  // namespace isobench::harness
