#pragma once
// Internal: the report as a list of blocks, built once and rendered twice, to Markdown and to a
// self-contained HTML page (inline style sheet and SVG, no script, no network reference). Texts
// may use Markdown's `code` and **bold**; both renderers understand them.
#include <string>
#include <vector>

namespace perflab::analysis::detail {

struct block {
  enum class kind { heading, paragraph, bullets, table, plot, alert };
  kind k = kind::paragraph;
  int level = 2;                               // heading level
  std::string text;                            // heading/paragraph/alert text; plot title
  std::vector<std::string> items;              // bullets
  std::vector<std::string> header;             // table
  std::vector<std::vector<std::string>> rows;  // table
  std::string svg;                             // plot: gnuplot's standalone SVG
  std::string svg_file;                        // plot: file name next to report.md
  std::string caption;                         // plot: how to read it
};

struct document {
  std::vector<block> blocks;
  void heading(int level, std::string t);
  void para(std::string t);
  void alert(std::string t);  // a highlighted warning line ("WARNING: " is prepended when rendered)
  void bullets(std::vector<std::string> items);
  void table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows);
  void plot(std::string title, std::string svg, std::string file, std::string caption);
};

std::string render_markdown(const document& d);
std::string render_html(const document& d, const std::string& title);

// Cell and text escaping, also used by the CI formats.
std::string md_escape_cell(const std::string& s);  // '|' escaped, newlines folded
std::string html_escape(const std::string& s);     // & < > "

// A Markdown table (header, alignment row, rows) with numeric columns right-aligned.
std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace perflab::analysis::detail
