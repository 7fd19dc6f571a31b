// The smallest host: load and check flows, print what was loaded.
//
//   flows/ --load_flows--> [technician-visit v1: 9 steps]
#include <escalon/escalon.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: consumer FLOWS...\n";
    return 2;
  }
  try {
    auto flows = escalon::load_flows(std::span<const std::string>(std::vector<std::string>(argv + 1, argv + argc)));
    for (const auto& f : flows) std::cout << f->id << " v" << f->version << ": " << f->steps.size() << " steps\n";
  } catch (const escalon::FlowError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.str() << '\n';
    return 1;
  }
  return 0;
}
