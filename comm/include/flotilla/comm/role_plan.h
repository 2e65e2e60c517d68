// Which rank does what. Pure functions of (hostnames per rank, S, L, K), so a dry run, a
// Slurm template and the real job agree, and tests need no MPI.
//
// Layout: ranks are taken node by node in turns (node 0's first rank, node 1's first rank,
// ..., node 0's second rank, ...); the first T of that order are trainers, the next S
// samplers, the last L loaders. So every node gets trainers first (they hold the GPUs:
// node-local rank picks the device) and samplers/loaders are spread over the nodes.
// With trainers_per_node = N > 0 the trainers come first instead: the first N ranks (by local
// rank) of each node in order until T are placed, so T = N x (nodes listed first) keeps the
// samplers and loaders on the remaining nodes (a heterogeneous job: multi-GPU trainer nodes
// first, CPU-only server nodes after); the other ranks take the sampler and loader roles in
// the turn order above.
// Partitions: with S <= K, sampler j serves parts p with p mod S == j; with S > K, sampler
// j serves part j mod K (several samplers share a part). Loaders likewise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flotilla {

enum class Role { Trainer, Sampler, Loader };
const char* role_name(Role r);

struct RankPlan {
  int rank = 0;
  Role role = Role::Trainer;
  int index = 0;            // among the ranks of its role
  std::string host;
  int node = 0;             // index of its host in first-appearance order
  int local_rank = 0;       // among the ranks on its host, by rank
  std::vector<std::uint32_t> parts;  // samplers/loaders: parts served
  int home_sampler = -1;    // trainers: rank of the sampler that builds their batches
};

struct RolePlan {
  int trainers = 0, samplers = 0, loaders = 0;
  std::uint32_t num_parts = 0;
  std::vector<RankPlan> ranks;          // by rank
  std::vector<int> trainer_ranks, sampler_ranks, loader_ranks;  // by role index
  std::vector<std::vector<int>> part_samplers, part_loaders;    // part -> serving ranks
  // The rank serving part p for a requester (spreads requesters over the part's servers).
  int sampler_for(std::uint32_t part, int requester) const;
  int loader_for(std::uint32_t part, int requester) const;
  bool colocated() const { return samplers == 0 && loaders == 0; }
};

// Throws std::invalid_argument when the counts do not fit (no trainer left, S or L negative,
// exactly one of S and L zero, T trainers more than trainers_per_node x nodes).
RolePlan plan_roles(const std::vector<std::string>& hosts, int samplers, int loaders, std::uint32_t num_parts,
                    int trainers_per_node = 0);

}  // namespace flotilla

namespace flotilla {

// Fault injection for the reliability tests: with FLOTILLA_FAULT="ROLE:INDEX:N[:exit|:stop]" in
// the environment, rank INDEX of ROLE (trainer, sampler, loader) kills itself with SIGKILL (or
// exits with status 3 without finalising MPI, with ":exit"; or stops itself with SIGSTOP, with
// ":stop", and carries on if continued) at its N-th unit of work
// (trainer: step; sampler: batch built; loader: gather served). Call with a running count;
// does nothing when the variable is unset or names another rank.
void maybe_inject_fault(Role role, int index, std::uint64_t count);

}  // namespace flotilla
