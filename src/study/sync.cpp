#include "study/sync.hpp"

#include <cstring>
#include <stdexcept>

#include "study/mpi.hpp"

namespace ioca::study {

SyncStatus exchange_new_tasks(const SyncStatus& mine_status, const std::vector<Record>& records,
                              std::vector<TaskEntry>* fresh) {
  Bytes mine;
  const auto put = [&](const void* p, std::size_t n) {
    mine.insert(mine.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
  };
  const auto put_string = [&](const std::string& s) {
    const std::uint64_t n = s.size();
    put(&n, sizeof n);
    put(s.data(), s.size());
  };
  put(&mine_status.code, sizeof mine_status.code);
  put_string(mine_status.message);
  for (const auto& r : records) {
    const TaskSize size = size_of(r);
    put_string(r.key);
    put(&size, sizeof size);
  }
  const auto all = mpi::allgather(mine);

  SyncStatus global;
  for (std::size_t rank = 0; rank < all.size(); ++rank) {
    const Bytes& b = all[rank];
    std::size_t at = 0;
    const auto get = [&](void* p, std::size_t n) {
      if (n > b.size() - at) throw std::logic_error("truncated synchronisation message");
      std::memcpy(p, b.data() + at, n);
      at += n;
    };
    const auto get_string = [&] {
      std::uint64_t n = 0;
      get(&n, sizeof n);
      std::string s(static_cast<std::size_t>(n), '\0');
      get(s.data(), s.size());
      return s;
    };
    std::int64_t code = 0;
    get(&code, sizeof code);
    const std::string message = get_string();
    if (code != 0 && global.code == 0) global = {code, message};
    while (at < b.size()) {
      TaskEntry e;
      e.key = get_string();
      get(&e.size, sizeof e.size);
      e.owner = static_cast<int>(rank);
      fresh->push_back(std::move(e));
    }
  }
  return global;
}

}  // namespace ioca::study
