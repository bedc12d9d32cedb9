import Foundation
import Testing

/// `rnnkit bench` runs both forms and reports its figures; no timing is asserted.
@Suite struct BenchCommandTests {
    @Test(arguments: [[String](), ["--charlm", "--vocabulary", "12", "--embedding", "4"]])
    func benchReportsItsFigures(form: [String]) throws {
        let r = try runRNNKit(["bench", "--hidden", "8", "--batch", "4", "--seq-len", "5", "--features", "3",
                               "--seconds", "0.05", "--warmup", "0", "--json"] + form)
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(r.stdout.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in ["train_samples_per_s", "infer_samples_per_s", "train_gflops", "peak_gflops", "ceiling_gflops", "blas_gflops",
                    "train_efficiency", "peak_memory_mb"] {
            #expect((json[key] as? Double).map { $0 > 0 } == true, "\(key): \(String(describing: json[key]))")
        }
        // LSTM, F=3, H=8, T=5: recurrent FLOPs = 5 · 2 · (F + 8) · 32. The char model (E=4, V=12, batch 4)
        // multiplies no input; its table, 2 · 12 · 4 · 32, is shared by the batch's 4 sequences.
        let classifier: Double = 5 * 2 * (3 + 8) * 32, table: Double = 2 * 12 * 4 * 32 / 4
        let recurrent = form.isEmpty ? classifier : 5 * 2 * 8 * 32 + table
        let output = form.isEmpty ? 2.0 * 8 * 10 : 5 * 2.0 * 8 * 12
        #expect(json["forward_flops_per_sample"] as? Double == recurrent + output)
        #expect(r.stdout.contains("% of peak") || r.stdout.contains("% of best product"))
        #expect(r.stdout.contains("product:"))
        // The rnnkit beside the tests is built as they are; a debug build says its kernels ran unoptimized.
        #if DEBUG
        #expect(json["debug_build"] as? Bool == true && r.stdout.contains("a debug build"))
        #else
        #expect(json["debug_build"] as? Bool == false && !r.stdout.contains("a debug build"))
        #endif
    }

    @Test func badBenchFlags() throws {
        let r = try runRNNKit(["bench", "--charlm", "--bidirectional"])
        #expect(r.status != 0 && r.stderr.contains("read only the past"), "\(r.stderr)")
    }
}
