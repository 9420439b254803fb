// bench_libcds.cc - what loading an archive costs, piece by piece.
//
// pycds exists to make interpreter start-up cheaper, so libcds's own work at
// start-up must stay small next to what it saves.  This measures the three
// things a process pays for:
//
//   BM_OpenValidateMap/<MiB>    open + header/metadata checks + mmap (with
//                               MAP_POPULATE) + close, by object region size;
//   BM_OpenVerifyObjects/<MiB>  the same with CDS_OPEN_VERIFY_ALL, i.e.
//                               plus an XXH3 pass over the whole object region;
//   BM_IndexLookup/<modules>    cds_archive_find, by number of modules;
//   BM_Relocate/<where>/<N>     cds_archive_apply_relocs over N + 4 entries,
//                               mapped at the preferred address (delta 0) or
//                               moved elsewhere (internal pointers rewritten).
//
// Archives are written once, on first use, with the test fixture into a
// temporary directory that is removed at exit.  Each archive gets its own
// preferred address so that no two ever compete for the same range.

#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cds/cds.h"
#include "fixture.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 // Linux 4.17; older headers lack it
#endif

namespace
{

constexpr uint64_t kMiB = uint64_t{1} << 20;
// Spacing of preferred addresses: far more than an archive (or a writer's
// 4 GiB arena reservation) ever occupies.
constexpr uint64_t kBaseSpacing = uint64_t{1} << 36;

std::string StatusText(cds_status status, const cds_diag *diag = nullptr)
{
    std::string text = cds_strerror(status);
    if (diag && diag->message[0]) {
        text += ": ";
        text += diag->message;
    }
    return text;
}

// One sample archive on disk, written by the fixture the first time it is
// asked for.
struct SampleArchive {
    std::string path;
    uint64_t base_address = 0;
    cds_status status = CDS_OK; // of fixture_write
};

// Returns the archive described by `options` (base_address is filled in
// here), writing it on first use; nullptr after reporting an error.
const SampleArchive *GetArchive(benchmark::State &state, const std::string &key,
                                fixture_options options)
{
    static std::map<std::string, SampleArchive> archives;
    auto found = archives.find(key);
    if (found == archives.end()) {
        SampleArchive archive;
        archive.base_address =
            CDS_DEFAULT_BASE + (archives.size() + 1) * kBaseSpacing;
        archive.path = std::string(fixture_dir()) + "/" + key + ".cds";
        options.base_address = archive.base_address;
        archive.status = fixture_write(archive.path.c_str(), &options);
        found = archives.emplace(key, archive).first;
    }
    if (found->second.status != CDS_OK) {
        state.SkipWithError(
            ("fixture_write " + key + ": " + StatusText(found->second.status))
                .c_str());
        return nullptr;
    }
    return &found->second;
}

// Opens an archive, reporting failure to the benchmark; nullptr on error.
cds_archive *OpenArchive(benchmark::State &state, const SampleArchive &sample,
                         unsigned flags)
{
    cds_archive *archive = nullptr;
    cds_diag diag{};
    cds_status status =
        cds_archive_open(&archive, sample.path.c_str(), FIXTURE_FINGERPRINT,
                         FIXTURE_FINGERPRINT_SIZE, flags, &diag);
    if (status != CDS_OK) {
        state.SkipWithError(
            ("cds_archive_open: " + StatusText(status, &diag)).c_str());
        return nullptr;
    }
    return archive;
}

// ------------------------------------------------------------ open + map

// An archive whose object region totals about `mib` MiB, spread over a few
// modules so that the metadata is not degenerate.
const SampleArchive *SizedArchive(benchmark::State &state, int64_t mib)
{
    constexpr uint32_t kModules = 16;
    fixture_options options{};
    options.modules = kModules;
    options.payload =
        static_cast<size_t>(mib) * kMiB / kModules - sizeof(fixture_node);
    return GetArchive(state, "sized-" + std::to_string(mib) + "MiB", options);
}

void RunOpenClose(benchmark::State &state, unsigned flags)
{
    const SampleArchive *sample = SizedArchive(state, state.range(0));
    if (!sample)
        return;
    uint64_t file_size = fixture_file_size(sample->path.c_str());
    for (auto _ : state) {
        cds_archive *archive = OpenArchive(state, *sample, flags);
        if (!archive)
            break;
        benchmark::DoNotOptimize(archive);
        cds_archive_close(archive);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(file_size));
}

void BM_OpenValidateMap(benchmark::State &state)
{
    RunOpenClose(state, 0);
}

void BM_OpenVerifyObjects(benchmark::State &state)
{
    RunOpenClose(state, CDS_OPEN_VERIFY_ALL);
}

BENCHMARK(BM_OpenValidateMap)
    ->Arg(1)
    ->Arg(16)
    ->Arg(128)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OpenVerifyObjects)
    ->Arg(1)
    ->Arg(16)
    ->Arg(128)
    ->Unit(benchmark::kMicrosecond);

// ------------------------------------------------------------ index lookup

void BM_IndexLookup(benchmark::State &state)
{
    const auto modules = static_cast<uint32_t>(state.range(0));
    fixture_options options{};
    options.modules = modules;
    const SampleArchive *sample =
        GetArchive(state, "index-" + std::to_string(modules), options);
    if (!sample)
        return;
    cds_archive *archive = OpenArchive(state, *sample, 0);
    if (!archive)
        return;

    std::vector<std::string> names(modules);
    for (uint32_t m = 0; m < modules; m++) {
        char buffer[64];
        fixture_module_name(m, buffer, sizeof buffer);
        names[m] = buffer;
    }

    size_t next = 0;
    for (auto _ : state) {
        const std::string &name = names[next];
        uint32_t number = 0;
        cds_status status =
            cds_archive_find(archive, name.data(), name.size(), &number);
        if (status != CDS_OK) {
            state.SkipWithError(
                ("cds_archive_find " + name + ": " + StatusText(status))
                    .c_str());
            break;
        }
        benchmark::DoNotOptimize(number);
        if (++next == names.size())
            next = 0;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    cds_archive_close(archive);
}

BENCHMARK(BM_IndexLookup)->Arg(100)->Arg(1000)->Arg(10000);

// ------------------------------------------------------------ relocation

// Keeps one page mapped at `address` so that an archive preferring it must
// be mapped elsewhere.
class AddressBlocker
{
  public:
    explicit AddressBlocker(uint64_t address)
    {
        void *want = reinterpret_cast<void *>(static_cast<uintptr_t>(address));
        void *got =
            mmap(want, CDS_PAGE_SIZE, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (got == MAP_FAILED) {
            error_ = std::string("mmap blocker: ") + std::strerror(errno);
            return;
        }
        page_ = got;
        if (got != want) // a kernel before 4.17 took the address as a hint
            error_ = "mmap blocker: kernel ignored MAP_FIXED_NOREPLACE";
    }
    ~AddressBlocker()
    {
        if (page_)
            munmap(page_, CDS_PAGE_SIZE);
    }
    AddressBlocker(const AddressBlocker &) = delete;
    AddressBlocker &operator=(const AddressBlocker &) = delete;

    const std::string &error() const
    {
        return error_;
    }

  private:
    void *page_ = nullptr;
    std::string error_;
};

// One module with `entries` extra CDS_RELOC_TYPE relocations on top of the
// fixture node's four (type, internal self, singleton, intern).  The
// archive is written once and shared by both variants: the mapping is
// private, so relocating never changes the file.
void BM_Relocate(benchmark::State &state, bool moved)
{
    const auto entries = static_cast<uint32_t>(state.range(0));
    fixture_options options{};
    options.modules = 1;
    options.extra_relocs = entries;
    const SampleArchive *sample =
        GetArchive(state, "relocs-" + std::to_string(entries), options);
    if (!sample)
        return;

    cds_archive *archive = nullptr;
    {
        // Only needed while the archive is being mapped.
        std::unique_ptr<AddressBlocker> blocker;
        if (moved) {
            blocker = std::make_unique<AddressBlocker>(sample->base_address);
            if (!blocker->error().empty()) {
                state.SkipWithError(blocker->error().c_str());
                return;
            }
        }
        archive = OpenArchive(state, *sample, 0);
        if (!archive)
            return;
    }
    int64_t delta = cds_archive_delta(archive);
    if ((delta != 0) != moved) {
        state.SkipWithError(moved ? "archive still at its preferred address"
                                  : "preferred address taken: archive moved");
        cds_archive_close(archive);
        return;
    }
    const cds_module_record *record = cds_archive_module(archive, 0);
    if (!record) {
        state.SkipWithError("cds_archive_module 0: out of range");
        cds_archive_close(archive);
        return;
    }

    fixture_runtime runtime;
    fixture_runtime_init(&runtime);
    // One untimed pass: copy-on-write faults of the touched pages are a
    // one-off cost of the first relocation, not of relocating.
    cds_status status = cds_archive_apply_relocs(archive, 0, &runtime.symbols);
    if (status != CDS_OK) {
        state.SkipWithError(
            ("cds_archive_apply_relocs: " + StatusText(status)).c_str());
        cds_archive_close(archive);
        return;
    }

    for (auto _ : state) {
        status = cds_archive_apply_relocs(archive, 0, &runtime.symbols);
        if (status != CDS_OK) {
            state.SkipWithError(
                ("cds_archive_apply_relocs: " + StatusText(status)).c_str());
            break;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                            record->reloc_count);
    state.SetLabel("delta=" + std::to_string(delta));
    cds_archive_close(archive);
}

BENCHMARK_CAPTURE(BM_Relocate, preferred, false)
    ->Arg(1 << 10)
    ->Arg(1 << 16)
    ->Arg(1 << 20)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Relocate, moved, true)
    ->Arg(1 << 10)
    ->Arg(1 << 16)
    ->Arg(1 << 20)
    ->Unit(benchmark::kMicrosecond);

} // namespace

int main(int argc, char **argv)
{
    // Archives live in fixture_dir(), created on first use; remove it on
    // every way out that runs atexit handlers.
    std::atexit(fixture_cleanup);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
