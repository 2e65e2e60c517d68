#include "flotilla/comm/role_plan.h"

#include <map>
#include <stdexcept>

namespace flotilla {

const char* role_name(Role r) {
  switch (r) {
    case Role::Trainer: return "trainer";
    case Role::Sampler: return "sampler";
    case Role::Loader: return "loader";
  }
  return "?";
}

int RolePlan::sampler_for(std::uint32_t part, int requester) const {
  const auto& v = part_samplers.at(part);
  return v[static_cast<std::size_t>(requester) % v.size()];
}
int RolePlan::loader_for(std::uint32_t part, int requester) const {
  const auto& v = part_loaders.at(part);
  return v[static_cast<std::size_t>(requester) % v.size()];
}

RolePlan plan_roles(const std::vector<std::string>& hosts, int samplers, int loaders, std::uint32_t num_parts,
                    int trainers_per_node) {
  const int world = static_cast<int>(hosts.size());
  if (samplers < 0 || loaders < 0) throw std::invalid_argument("--samplers and --loaders must be >= 0");
  if ((samplers == 0) != (loaders == 0))
    throw std::invalid_argument("--samplers and --loaders are both 0 (co-located) or both >= 1");
  if (num_parts == 0) throw std::invalid_argument("no partitions");
  if (trainers_per_node < 0) throw std::invalid_argument("--trainers-per-node must be >= 0");
  const int trainers = world - samplers - loaders;
  if (trainers < 1)
    throw std::invalid_argument(std::to_string(world) + " ranks leave no trainer after " + std::to_string(samplers) +
                                " samplers and " + std::to_string(loaders) + " loaders (use mpirun -np " +
                                std::to_string(samplers + loaders + 1) + " or more)");
  RolePlan plan;
  plan.trainers = trainers;
  plan.samplers = samplers;
  plan.loaders = loaders;
  plan.num_parts = num_parts;
  plan.ranks.resize(static_cast<std::size_t>(world));
  std::map<std::string, int> node_of;
  std::vector<std::vector<int>> node_ranks;
  for (int r = 0; r < world; ++r) {
    auto [it, fresh] = node_of.emplace(hosts[static_cast<std::size_t>(r)], static_cast<int>(node_ranks.size()));
    if (fresh) node_ranks.emplace_back();
    RankPlan& rp = plan.ranks[static_cast<std::size_t>(r)];
    rp.rank = r;
    rp.host = hosts[static_cast<std::size_t>(r)];
    rp.node = it->second;
    rp.local_rank = static_cast<int>(node_ranks[static_cast<std::size_t>(it->second)].size());
    node_ranks[static_cast<std::size_t>(it->second)].push_back(r);
  }
  std::vector<int> order;  // role order: the first T train, the next S sample, the rest load
  std::vector<bool> placed(static_cast<std::size_t>(world), false);
  if (trainers_per_node > 0) {  // trainers fill the nodes in order, N each
    for (const auto& nr : node_ranks)
      for (std::size_t i = 0; i < nr.size() && i < static_cast<std::size_t>(trainers_per_node) &&
                              order.size() < static_cast<std::size_t>(trainers); ++i) {
        order.push_back(nr[i]);
        placed[static_cast<std::size_t>(nr[i])] = true;
      }
    if (order.size() < static_cast<std::size_t>(trainers))
      throw std::invalid_argument(std::to_string(trainers) + " trainers (" + std::to_string(world) + " ranks - " +
                                  std::to_string(samplers) + " samplers - " + std::to_string(loaders) +
                                  " loaders) do not fit " + std::to_string(trainers_per_node) + " per node on " +
                                  std::to_string(node_ranks.size()) + " nodes");
  }
  for (std::size_t round = 0; order.size() < static_cast<std::size_t>(world); ++round)  // node by node in turns
    for (const auto& nr : node_ranks)
      if (round < nr.size() && !placed[static_cast<std::size_t>(nr[round])]) order.push_back(nr[round]);
  for (int i = 0; i < world; ++i) {
    RankPlan& rp = plan.ranks[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])];
    if (i < trainers) {
      rp.role = Role::Trainer;
      rp.index = static_cast<int>(plan.trainer_ranks.size());
      plan.trainer_ranks.push_back(rp.rank);
    } else if (i < trainers + samplers) {
      rp.role = Role::Sampler;
      rp.index = static_cast<int>(plan.sampler_ranks.size());
      plan.sampler_ranks.push_back(rp.rank);
    } else {
      rp.role = Role::Loader;
      rp.index = static_cast<int>(plan.loader_ranks.size());
      plan.loader_ranks.push_back(rp.rank);
    }
  }
  plan.part_samplers.assign(num_parts, {});
  plan.part_loaders.assign(num_parts, {});
  auto assign = [&](const std::vector<int>& servers, std::vector<std::vector<int>>& part_servers) {
    const std::uint32_t count = static_cast<std::uint32_t>(servers.size());
    for (std::uint32_t j = 0; j < count; ++j) {
      RankPlan& rp = plan.ranks[static_cast<std::size_t>(servers[j])];
      if (count <= num_parts) {
        for (std::uint32_t p = j; p < num_parts; p += count) rp.parts.push_back(p);
      } else {
        rp.parts.push_back(j % num_parts);
      }
      for (std::uint32_t p : rp.parts) part_servers[p].push_back(rp.rank);
    }
  };
  assign(plan.sampler_ranks, plan.part_samplers);
  assign(plan.loader_ranks, plan.part_loaders);
  if (!plan.colocated()) {
    // Trainers spread over samplers; prefer one on the trainer's own node.
    for (int t = 0; t < trainers; ++t) {
      RankPlan& rp = plan.ranks[static_cast<std::size_t>(plan.trainer_ranks[static_cast<std::size_t>(t)])];
      int chosen = plan.sampler_ranks[static_cast<std::size_t>(t % samplers)];
      std::vector<int> same_node;
      for (int s : plan.sampler_ranks)
        if (plan.ranks[static_cast<std::size_t>(s)].node == rp.node) same_node.push_back(s);
      if (!same_node.empty()) {
        int local_index = 0;  // this trainer's index among trainers of its node
        for (int u = 0; u < t; ++u)
          if (plan.ranks[static_cast<std::size_t>(plan.trainer_ranks[static_cast<std::size_t>(u)])].node == rp.node) ++local_index;
        chosen = same_node[static_cast<std::size_t>(local_index) % same_node.size()];
      }
      rp.home_sampler = chosen;
    }
  }
  return plan;
}

}  // namespace flotilla

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace flotilla {

void maybe_inject_fault(Role role, int index, std::uint64_t count) {
  static const char* spec = std::getenv("FLOTILLA_FAULT");
  if (!spec || !*spec) return;
  char name[16] = {0}, how[8] = {0};
  int want_index = -1;
  unsigned long long at = 0;
  if (std::sscanf(spec, "%15[a-z]:%d:%llu:%7s", name, &want_index, &at, how) < 3) return;
  if (std::string(name) != role_name(role) || want_index != index || count != at) return;
  const std::string h(how);
  std::fprintf(stderr, "FLOTILLA_FAULT: %s %d %s at unit %llu (pid %d)\n", name, index,
               h == "exit" ? "exits" : h == "stop" ? "stops itself (SIGSTOP)" : "kills itself", at,
               static_cast<int>(::getpid()));
  std::fflush(stderr);
  if (h == "exit") std::_Exit(3);
  // Stopped, not dead: every thread of the process halts (its heartbeats too) until SIGCONT
  // or SIGKILL. The stalled-rank watchdog must notice it (comm/watchdog.h).
  if (h == "stop") {
    std::raise(SIGSTOP);
    return;
  }
  std::raise(SIGKILL);
}

}  // namespace flotilla
