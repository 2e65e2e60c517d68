// NumPy .npy reader/writer and the npy edge stream. Reference files in tests/data/npy were
// written by NumPy 1.24 (see tests/data/README.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "flotilla/datasets.h"
#include "test_paths.h"

using namespace flotilla;
using flotilla::test::error_of;
using flotilla::test::scratch_dir;
using flotilla::test::test_data;
using flotilla::test::write_file;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string npy(const std::string& name) { return test_data("npy/" + name); }

// Open file descriptors of this process (entries of /proc/self/fd).
std::size_t open_fd_count() {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// Header for hand-made files: version 1.0, dict padded to 64 bytes.
std::string v1_header(const std::string& dict) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h;
}

}  // namespace

TEST(Npy, ReadsNumpyReferenceFiles) {
  {
    const NpyArray a = read_npy(npy("f4_2x3.npy"));
    EXPECT_EQ(a.header().dtype, "<f4");
    EXPECT_EQ(a.shape(), (std::vector<std::uint64_t>{2, 3}));
    EXPECT_EQ(a.header().data_offset, 128u);
    const auto v = a.values<float>();
    ASSERT_EQ(v.size(), 6u);
    for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(v[i], i * 0.5f - 1.0f);
    EXPECT_THROW(a.values<double>(), std::invalid_argument);
  }
  {
    const NpyArray a = read_npy(npy("f8_scalar.npy"));
    EXPECT_TRUE(a.shape().empty());
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(a.header().num_rows(), 1u);
    EXPECT_DOUBLE_EQ(a.values<double>()[0], 3.25);
  }
  {
    const NpyArray a = read_npy(npy("u1_5.npy"));
    EXPECT_EQ(a.header().dtype, "|u1");
    EXPECT_EQ(a.to_int64(), (std::vector<std::int64_t>{0, 1, 127, 128, 255}));
  }
  EXPECT_EQ(read_npy(npy("u4_3.npy")).as_int64(2), 4294967295LL);
  {
    const NpyArray a = read_npy(npy("u8_2.npy"));
    EXPECT_EQ(a.values<std::uint64_t>()[1], std::numeric_limits<std::uint64_t>::max());
    EXPECT_THROW(a.as_int64(1), std::out_of_range);
  }
  {
    const NpyArray a = read_npy(npy("i8_edge_index_2x5.npy"));
    EXPECT_EQ(a.to_int64(), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 1, 2, 0, 3, 1}));
  }
  {
    const NpyArray a = read_npy(npy("i8_empty_0x2.npy"));
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(a.shape(), (std::vector<std::uint64_t>{0, 2}));
  }
  for (const char* f : {"f8_v2_3x1.npy", "f8_v3_3x1.npy"}) {
    SCOPED_TRACE(f);
    const NpyArray a = read_npy(npy(f));
    EXPECT_EQ(a.header().major_version, f[4] - '0');
    EXPECT_EQ(a.shape(), (std::vector<std::uint64_t>{3, 1}));
    EXPECT_DOUBLE_EQ(a.as_double(2), 1e300);
    EXPECT_TRUE(std::isinf(a.to_float()[2]));  // float conversion of 1e300
    EXPECT_FLOAT_EQ(a.to_float()[1], -2.0f);
  }
}

TEST(Npy, WriterMatchesNumpyBytes) {
  // NpyWriter produces the same bytes as numpy.save (header padding included).
  const std::string dir = scratch_dir();
  struct Case { const char* ref; NpyType type; std::vector<std::uint64_t> shape; };
  const Case cases[] = {
      {"f4_2x3.npy", NpyType::Float32, {2, 3}},
      {"f8_scalar.npy", NpyType::Float64, {}},
      {"u1_5.npy", NpyType::UInt8, {5}},
      {"u4_3.npy", NpyType::UInt32, {3}},
      {"u8_2.npy", NpyType::UInt64, {2}},
      {"i4_edges_5x2.npy", NpyType::Int32, {5, 2}},
      {"i8_edge_index_2x5.npy", NpyType::Int64, {2, 5}},
      {"f4_signal_2x3x2.npy", NpyType::Float32, {2, 3, 2}},
      {"i8_empty_0x2.npy", NpyType::Int64, {0, 2}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ref);
    const std::string ref = slurp(npy(c.ref));
    const NpyHeader h = read_npy_header(npy(c.ref));
    const std::string out = dir + "/" + c.ref;
    {
      NpyWriter w(out, c.type, c.shape);
      // Row by row, as a streaming producer would.
      const std::uint64_t rows = c.shape.empty() ? 1 : c.shape[0];
      const std::uint64_t per_row = h.row_elements();
      for (std::uint64_t r = 0; r < rows; ++r)
        w.write(ref.data() + h.data_offset + r * per_row * h.word_size, per_row);
      w.finish();
    }
    EXPECT_EQ(slurp(out), ref);
  }
}

TEST(Npy, RoundTripAllDtypesAndRanks) {
  const std::string dir = scratch_dir();
  const std::vector<std::vector<std::uint64_t>> shapes = {{}, {1}, {5}, {3, 4}, {2, 3, 4}, {2, 1, 2, 3}, {4, 0}};
  for (const auto& shape : shapes) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    auto check = [&](auto tag) {
      using T = decltype(tag);
      std::vector<T> data(n);
      for (std::uint64_t i = 0; i < n; ++i) data[i] = static_cast<T>(i * 3 + 1);
      const std::string p = dir + "/rt.npy";
      write_npy(p, shape, data);
      const NpyArray a = read_npy(p);
      EXPECT_EQ(a.shape(), shape);
      EXPECT_EQ(a.type(), npy_type_of<T>());
      const auto v = a.values<T>();
      EXPECT_TRUE(std::equal(v.begin(), v.end(), data.begin(), data.end()));
      EXPECT_EQ(a.header().data_offset % 64, 0u);
    };
    SCOPED_TRACE(npy_shape_string(shape));
    check(float{});
    check(double{});
    check(std::int32_t{});
    check(std::int64_t{});
    check(std::uint8_t{});
    check(std::uint32_t{});
    check(std::uint64_t{});
  }
  // Negative values and conversions.
  write_npy(dir + "/neg.npy", {3}, std::vector<std::int32_t>{-5, 0, 7});
  EXPECT_EQ(read_npy(dir + "/neg.npy").to_int64(), (std::vector<std::int64_t>{-5, 0, 7}));
  EXPECT_EQ(read_npy(dir + "/neg.npy").to_float(), (std::vector<float>{-5, 0, 7}));
  write_npy(dir + "/frac.npy", {2}, std::vector<double>{2.0, 2.5});
  EXPECT_EQ(read_npy(dir + "/frac.npy").as_int64(0), 2);
  EXPECT_THROW(read_npy(dir + "/frac.npy").as_int64(1), std::out_of_range);
}

TEST(Npy, RowReaderStreamsInChunks) {
  const std::string p = scratch_dir() + "/sig.npy";
  const std::uint64_t T = 1000, N = 7, F = 3;
  {
    NpyWriter w(p, NpyType::Float64, {T, N, F});
    std::vector<double> row(N * F);
    for (std::uint64_t t = 0; t < T; ++t) {
      for (std::uint64_t i = 0; i < N * F; ++i) row[i] = static_cast<double>(t) + i / 100.0;
      w.write_values(row.data(), row.size());
    }
    EXPECT_THROW(w.write(row.data(), 1), std::out_of_range);  // beyond the shape
    w.finish();
  }
  NpyRowReader r(p);
  EXPECT_EQ(r.num_rows(), T);
  EXPECT_EQ(r.row_elements(), N * F);
  std::vector<float> buf(64 * N * F);
  std::uint64_t t = 0, got;
  bool ok = true;
  while ((got = r.read_rows_float(buf.data(), 64)) > 0) {
    for (std::uint64_t k = 0; k < got; ++k)
      for (std::uint64_t i = 0; i < N * F; ++i) ok &= buf[k * N * F + i] == static_cast<float>((t + k) + i / 100.0);
    t += got;
  }
  EXPECT_TRUE(ok);
  EXPECT_EQ(t, T);
  r.seek_row(998);
  std::vector<double> raw(5 * N * F);
  EXPECT_EQ(r.read_rows(raw.data(), 5), 2u);
  EXPECT_DOUBLE_EQ(raw[N * F], 999.0);
  // Reference signal from NumPy.
  NpyRowReader s(npy("f4_signal_2x3x2.npy"));
  std::vector<float> sig(12);
  EXPECT_EQ(s.read_rows_float(sig.data(), 10), 2u);
  EXPECT_FLOAT_EQ(sig[11], 11 / 4.0f);
}

TEST(Npy, UnfinishedWriterLeavesNothing) {
  const std::string p = scratch_dir() + "/never.npy";
  {
    NpyWriter w(p, NpyType::Float32, {10});
    const float x[3] = {1, 2, 3};
    w.write_values(x, 3);
    EXPECT_THROW(w.finish(), std::logic_error);  // only 3 of 10 elements
  }
  EXPECT_FALSE(std::ifstream(p).good());
  EXPECT_FALSE(std::ifstream(temp_path_for(p)).good());
}

TEST(Npy, BadInputs) {
  const std::string good = slurp(npy("f4_2x3.npy"));
  struct Case { const char* name; std::string bytes; const char* expect; };
  const Case cases[] = {
      {"empty.npy", "", "byte 0: empty file"},
      {"magic.npy", "\x93NUMPX" + good.substr(6), "byte 0: not a .npy file: bad magic"},
      {"text.npy", "hello world, not numpy", "bad magic"},
      {"short.npy", good.substr(0, 8), "truncated .npy preamble"},
      {"version.npy", good.substr(0, 6) + "\x04" + good.substr(7), "byte 6: unsupported .npy format version 4.0"},
      {"trunc.npy", good.substr(0, good.size() - 5), "byte 147: truncated data"},
      {"hdrtrunc.npy", good.substr(0, 60), "runs past the end of the file"},
      {"padded.npy", good + "xyz", "byte 152: 3 unexpected bytes after the data"},
      {"fortran.npy", slurp(npy("f4_fortran_2x3.npy")), "Fortran-order"},
      {"big.npy", slurp(npy("f4_bigendian_3.npy")), "big-endian dtype '>f4'"},
      {"complex.npy", slurp(npy("c8_2.npy")), "unsupported dtype '<c8'"},
      {"object.npy", v1_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }") + "12345678",
       "unsupported dtype '|O'"},
      {"struct.npy", v1_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }") + "1234",
       "structured dtypes"},
      {"huge.npy", v1_header("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 100000), }") + "12345678",
       "truncated data"},  // must not try to allocate 80 PB
      {"overflow.npy",
       v1_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }"),
       "more elements than fit in 64 bits"},
      {"dimover.npy", v1_header("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }"),
       "overflows 64 bits"},
      {"nokey.npy", v1_header("{'descr': '<f4', 'shape': (1,), }") + "1234", "missing key 'fortran_order'"},
      {"extrakey.npy", v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}") + "1234",
       "unexpected key 'x'"},
      {"dupkey.npy", v1_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}") + "1234",
       "duplicate key"},
      {"syntax.npy", v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ") + "1234", "expected ',' or '}'"},
      {"negdim.npy", v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }") + "1234",
       "non-negative integer dimension"},
      {"boolval.npy", v1_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }") + "1234", "True or False"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string p = write_file(c.name, c.bytes);
    const std::string err = error_of([&] { read_npy(p); });
    EXPECT_NE(err.find(c.expect), std::string::npos) << err;
    EXPECT_NE(err.find(c.name), std::string::npos) << err;
    // The streaming reader and the header reader reject the same files.
    EXPECT_THROW(NpyRowReader r(p), InputError);
  }
  // A valid header with a tolerated Python 2 'L' suffix and double quotes.
  const std::string p = write_file("py2.npy", v1_header("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2L,)}") +
                                                  std::string("\x01\0\0\0\x02\0\0\0", 8));
  EXPECT_EQ(read_npy(p).to_int64(), (std::vector<std::int64_t>{1, 2}));
  // A 1-D array flagged Fortran order is the same bytes as C order.
  const std::string f1 = write_file("f1.npy", v1_header("{'descr': '<i4', 'fortran_order': True, 'shape': (1,), }") +
                                                  std::string("\x07\0\0\0", 4));
  EXPECT_EQ(read_npy(f1).as_int64(0), 7);
}

TEST(NpyEdgeStream, RowsAndEdgeIndexLayouts) {
  // [5, 2] int32 rows: 0-1, 1-2, 2-0, 3-3 (self-loop, dropped), 4-1.
  auto a = open_edge_stream(npy("i4_edges_5x2.npy"));
  EXPECT_EQ(a->info().format, GraphFormat::Npy);
  EXPECT_EQ(a->info().num_nodes, 5u);
  EXPECT_EQ(a->info().num_edges_hint, 5u);
  EdgeChunk c;
  std::vector<std::pair<VertexId, VertexId>> got;
  while (a->next_chunk(c, 2))
    for (std::size_t i = 0; i < c.size(); ++i) got.emplace_back(c.src[i], c.dst[i]);
  const std::vector<std::pair<VertexId, VertexId>> want = {{0, 1}, {1, 2}, {2, 0}, {4, 1}};
  EXPECT_EQ(got, want);
  // The same edges as PyG edge_index [2, 5] int64.
  auto b = open_edge_stream(npy("i8_edge_index_2x5.npy"));
  got.clear();
  while (b->next_chunk(c, 3))
    for (std::size_t i = 0; i < c.size(); ++i) got.emplace_back(c.src[i], c.dst[i]);
  EXPECT_EQ(got, want);
  b->rewind();
  EXPECT_EQ(build_csr(*b).num_undirected_edges(), 4u);
  // Empty edge array: a graph with no nodes.
  EXPECT_EQ(open_edge_stream(npy("i8_empty_0x2.npy"))->info().num_nodes, 0u);
  // Larger [2, m] array read in several chunks through the two cursors.
  const std::string p = scratch_dir() + "/ei.npy";
  const std::uint64_t m = 10000;
  std::vector<std::int64_t> ei(2 * m);
  for (std::uint64_t i = 0; i < m; ++i) {
    ei[i] = static_cast<std::int64_t>(i % 997);
    ei[m + i] = static_cast<std::int64_t>((i * 7 + 1) % 1009);
  }
  write_npy(p, {2, m}, ei);
  auto s = open_edge_stream(p);
  EXPECT_EQ(s->info().num_nodes, 1009u);
  std::uint64_t i = 0;
  bool ok = true;
  while (s->next_chunk(c, 999))
    for (std::size_t j = 0; j < c.size(); ++j, ++i) {
      while (ei[i] == ei[m + i]) ++i;
      ok &= c.src[j] == static_cast<VertexId>(ei[i]) && c.dst[j] == static_cast<VertexId>(ei[m + i]);
    }
  EXPECT_TRUE(ok);
}

TEST(NpyEdgeStream, BadEdgeArrays) {
  const std::string dir = scratch_dir();
  write_npy(dir + "/neg.npy", {3, 2}, std::vector<std::int64_t>{0, 1, 2, -4, 1, 2});
  EXPECT_NE(error_of([&] { open_edge_stream(dir + "/neg.npy"); }).find("neg.npy: byte 152: negative node id -4"),
            std::string::npos);
  write_npy(dir + "/float.npy", {3, 2}, std::vector<float>(6, 1.0f));
  EXPECT_NE(error_of([&] { open_edge_stream(dir + "/float.npy"); }).find("integer dtype"), std::string::npos);
  write_npy(dir + "/shape.npy", {3, 3}, std::vector<std::int32_t>(9, 1));
  EXPECT_NE(error_of([&] { open_edge_stream(dir + "/shape.npy"); }).find("shape [m, 2]"), std::string::npos);
  write_npy(dir + "/huge.npy", {1, 2}, std::vector<std::uint64_t>{0, std::uint64_t{1} << 40});
  EXPECT_NE(error_of([&] { open_edge_stream(dir + "/huge.npy"); }).find("32-bit"), std::string::npos);
}

TEST(NpyEdgeStream, FailedOpensDoNotLeakFileDescriptors) {
  if (!std::filesystem::is_directory("/proc/self/fd")) GTEST_SKIP() << "no /proc/self/fd";
  const std::string dir = scratch_dir();
  // [2, m] edge_index with a negative target: the constructor's pre-pass has opened its own
  // descriptor for the row slices when the bad id throws.
  write_npy(dir + "/neg_ei.npy", {2, 3}, std::vector<std::int64_t>{0, 1, 2, 1, -4, 2});
  // [m, 2] rows with a negative id, a truncated file and a bad header: the other throw paths.
  write_npy(dir + "/neg_rows.npy", {3, 2}, std::vector<std::int64_t>{0, 1, 2, -4, 1, 2});
  const std::string good = slurp(dir + "/neg_rows.npy");
  write_file("trunc.npy", good.substr(0, good.size() - 3));
  write_file("badhdr.npy", v1_header("{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2, }") + std::string(48, '\0'));
  const std::string expect = "neg_ei.npy: byte " + std::to_string(read_npy_header(dir + "/neg_ei.npy").data_offset + 32) +
                             ": negative node id -4";
  EXPECT_NE(error_of([&] { open_edge_stream(dir + "/neg_ei.npy"); }).find(expect), std::string::npos);
  const std::size_t before = open_fd_count();
  for (int i = 0; i < 50; ++i) {
    EXPECT_THROW(open_edge_stream(dir + "/neg_ei.npy"), InputError);
    EXPECT_THROW(open_edge_stream(dir + "/neg_rows.npy"), InputError);
    EXPECT_THROW(open_edge_stream(dir + "/trunc.npy"), InputError);
    EXPECT_THROW(NpyRowReader(dir + "/badhdr.npy"), InputError);
    EXPECT_THROW(read_npy(dir + "/trunc.npy"), InputError);
    EXPECT_THROW(read_npy_header(dir + "/badhdr.npy"), InputError);
  }
  EXPECT_EQ(open_fd_count(), before);
}
