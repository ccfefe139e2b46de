// `tokenmill report RESULTS.json... -o report.html`: a self-contained HTML page with SVG charts.
#include <cstdio>
#include <fstream>

#include "cli_common.h"
#include "core/error.h"
#include "report/report_page.h"

namespace tokenmill::cli {

void add_report_command(CLI::App& app) {
  struct Flags {
    std::vector<std::string> files;
    std::string out = "report.html";
    std::string title = "tokenmill report";
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Render result files (bench serve, bench --json, plan --json, bench ablate) as one HTML page "
                "with SVG charts");
  cmd->add_option("files", f->files, "Result JSON files")->required();
  cmd->add_option("-o,--output", f->out, "HTML file to write (default report.html)");
  cmd->add_option("--title", f->title, "Page title");
  cmd->callback([f] {
    std::vector<report::ReportInput> inputs;
    for (const std::string& path : f->files) {
      std::ifstream in(path);
      if (!in) throw Error(path + ": cannot be read");
      nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
      if (j.is_discarded()) throw Error(path + ": not valid JSON");
      inputs.push_back({path, std::move(j)});
    }
    const std::string html = report::render_report(inputs, f->title);
    const std::string tmp = f->out + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      if (!out) throw Error(f->out + ": cannot be written");
      out << html;
      if (!out.flush()) throw Error(f->out + ": write failed");
    }
    if (std::rename(tmp.c_str(), f->out.c_str()) != 0) throw Error(f->out + ": cannot be written");
    std::fprintf(stderr, "report: wrote %s (%zu inputs)\n", f->out.c_str(), inputs.size());
  });
}

}  // namespace tokenmill::cli
