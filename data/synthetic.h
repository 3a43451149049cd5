#pragma once
// Synthetic latent-reasoning tasks generated in-process: the embedded default data for the
// quickstart and the CPU tests. Each generator takes a difficulty knob, `steps`, that is the
// number of reasoning steps the answer needs; data/synthetic_task.h adds splits and a registry.
#include <cstdint>
#include <random>
#include <string>

namespace dreamer::data {

struct Example {
  std::string prompt;  // e.g. "3+4*2-7=" (mod 10)
  std::string answer;  // e.g. "7"
  int steps = 0;       // reasoning steps the answer needs (the generator's difficulty knob)
};

// Multi-step modular arithmetic: `steps` operations applied left to right modulo `modulus`
// (a modulus <= 10 keeps every number one digit). The answer needs every step.
Example modular_arithmetic(std::mt19937_64& rng, int steps, int modulus = 10);

// Variable tracking (k-hop pointer chasing): single-letter variables, each assigned once, to a
// digit or to another variable; the query variable reaches its digit after exactly `steps`
// variable-to-variable hops. `distractors` more variables (digits or pointers into anything
// defined) are mixed in, and all assignments are shuffled, so order gives nothing away.
// Prompt "q=4,c=7,x=c,b=x,k=q;b=" answer "7" (2 hops: b->x->c). Needs steps+1+distractors <= 26.
Example variable_tracking(std::mt19937_64& rng, int steps, int distractors = 3);

// Multi-digit addition of two `steps`-digit numbers (no leading zeros): one carry step per
// digit column. Prompt "4821+9375=" answer "14196".
Example multi_digit_addition(std::mt19937_64& rng, int steps);

// Graph reachability: two disjoint directed chains of `steps` edges each, plus `branches`
// dead-end edges hanging off each chain, edges shuffled. The question asks whether the start
// of one chain reaches the end of a chain (its own: "yes" after exactly `steps` hops; the
// other's: "no"), each with probability 1/2. Prompt "a>b,c>d,b>e,d>f;a>e?" answer "yes".
// Needs 2*(steps+1) + 2*branches <= 26 nodes.
Example graph_reachability(std::mt19937_64& rng, int steps, int branches = 1);

}  // namespace dreamer::data
