import Foundation
import RNNKit
import Testing

/// `rnnkit charlm train|sample|eval` on a small text the test writes.
@Suite struct CharLMCommandTests {
    static func writeText() throws -> (dir: String, file: String) {
        let dir = NSTemporaryDirectory() + "rnnkit-charlm-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let text = String(repeating: "床前明月光，疑是地上霜。the cat sat on the mat. 👍\n", count: 30)
        try Data(("\u{1B}[1;32m" + text + "\u{1B}[0m").utf8).write(to: URL(fileURLWithPath: dir + "/poem.txt"))
        return (dir, dir + "/poem.txt")
    }

    static let tiny = ["--hidden", "16", "--layers", "1", "--embedding", "8", "--batch", "4", "--seq-len", "12", "--seed", "3", "--strip-ansi"]

    func lastJSON(_ stdout: String) throws -> [String: Any] {
        let line = try #require(stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// The vocabulary size config.json records.
    func vocabularySize(_ folder: String) -> Int {
        let data = FileManager.default.contents(atPath: folder + "/config.json") ?? Data()
        let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        return ((config?["model"] as? [String: Any])?["vocabulary"] as? [Any])?.count ?? -1
    }

    @Test func trainSampleAndEvaluate() throws {
        let (dir, file) = try Self.writeText()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runRNNKit(["charlm", "train", "--text", file, "--epochs", "3", "--out", dir + "/lm", "--json"] + Self.tiny)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try lastJSON(r.stdout)
        #expect(json["epochs"] as? Int == 3)
        let best = try #require(json["best_validation_loss"] as? Double)
        #expect(best > 0 && best < log(Double(20)), "learned something below a uniform guess")
        for file in ["config.json", "model.safetensors", "training_state.safetensors", "metrics.jsonl", "curves.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/lm/" + file), "\(file)")
        }
        let config = try String(contentsOfFile: dir + "/lm/config.json", encoding: .utf8)
        #expect(config.contains("\"charlm\"") && config.contains("床") && !config.contains("\\u001b"), "vocabulary stored, escapes stripped")

        let a = try runRNNKit(["charlm", "sample", "--model", dir + "/lm", "--prime", "床前", "--length", "30", "--seed", "5"])
        let b = try runRNNKit(["charlm", "sample", "--model", dir + "/lm", "--prime", "床前", "--length", "30", "--seed", "5"])
        #expect(a.status == 0 && a.stdout == b.stdout, "\(a.stderr)")
        #expect(a.stdout.hasPrefix("床前") && a.stdout.unicodeScalars.count == 2 + 30 + 1)

        // predict text: the next character's distribution; its most likely character is what argmax sampling draws.
        let greedy = try runRNNKit(["sample", "text", "--model", dir + "/lm", "--prime", "床前", "--length", "1", "--argmax"])
        let p = try runRNNKit(["predict", "text", "--model", dir + "/lm", "--top", "100", "床前", "明月"])
        #expect(p.status == 0, "\(p.stderr)")
        // (A newline character is the quoted field "<newline>"; joined here to keep one row per line.)
        let rows = p.stdout.replacingOccurrences(of: "\"\n\"", with: "⏎").split(separator: "\n")
            .map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let records = rows.filter { $0[0] == "床前" || $0[0] == "明月" }.count
        #expect(rows[0] == ["text", "rank", "character", "probability"] && records == 2 * min(100, vocabularySize(dir + "/lm")), "\(p.stdout)")
        #expect(rows[1][0] == "床前" && rows[1][1] == "1" && String(greedy.stdout.dropFirst(2).prefix(1)) == String(rows[1][2]))
        let first = rows.dropFirst().filter { $0[0] == "床前" }.compactMap { Double($0.last!) }
        #expect(first == first.sorted(by: >) && abs(first.reduce(0, +) - 1) < 1e-4, "every character listed, sorted, summing to 1")

        // export onnx writes the sequence graph and the one-step graph.
        let exported = try runRNNKit(["export", "onnx", "--model", dir + "/lm"])
        #expect(exported.status == 0 && exported.stdout.contains("model-step.onnx"), "\(exported.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/lm/model.onnx") && FileManager.default.fileExists(atPath: dir + "/lm/model-step.onnx"))

        let bad = try runRNNKit(["charlm", "sample", "--model", dir + "/lm", "--prime", "Q"])
        #expect(bad.status != 0 && bad.stderr.contains("prime") && bad.stderr.contains("'Q'"), "\(bad.stderr)")

        let e = try runRNNKit(["charlm", "eval", "--model", dir + "/lm", "--text", file, "--strip-ansi", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let bits = try #require(try lastJSON(e.stdout)["bits_per_character"] as? Double)
        #expect(bits > 0 && bits < log2(20.0))
    }

    /// Stopping mid-epoch (after an --eval-every point) and resuming gives the straight run's weights:
    /// the streams' carried state is saved and restored.
    @Test func resumeContinuesExactly() throws {
        let (dir, file) = try Self.writeText()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let flags = ["charlm", "train", "--text", file, "--dropout", "0.1", "--layers", "2", "--eval-every", "5"]
            + Self.tiny.filter { $0 != "1" && $0 != "--layers" }
        #expect(try runRNNKit(flags + ["--steps", "24", "--out", dir + "/a"]).status == 0)
        #expect(try runRNNKit(flags + ["--steps", "10", "--out", dir + "/b"]).status == 0)
        let resumed = try runRNNKit(["charlm", "train", "--resume", dir + "/b", "--steps", "24"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/a/model.safetensors") == FileManager.default.contents(atPath: dir + "/b/model.safetensors"))
        let (x, y) = (try CharLMCheckpoint.load(from: dir + "/a", forResume: true), try CharLMCheckpoint.load(from: dir + "/b", forResume: true))
        #expect(x.model.namedParameters.map(\.variable.value) == y.model.namedParameters.map(\.variable.value))
        #expect(x.optimizerState == y.optimizerState)
        #expect(try ReliabilityTests.metricsWithoutTimes(dir + "/a") == ReliabilityTests.metricsWithoutTimes(dir + "/b"))
    }

    @Test(arguments: [
        (["--text", "/nonexistent.txt"], "/nonexistent.txt: file not found"),
        (["--preset", "shakespeare"], "unknown preset 'shakespeare'"),
        ([String](), "give a text with --text FILE"),
        (["--text", "x", "--one-hot", "--embedding", "4"], "exclude each other"),
        (["--text", "x", "--validation", "1"], "--validation must be a fraction in [0, 1)"),
    ])
    func badRequestsGiveClearErrors(flags: [String], message: String) throws {
        let r = try runRNNKit(["charlm", "train"] + flags)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    @Test func invalidUTF8TextIsRejected() throws {
        let (dir, _) = try Self.writeText()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data([0x61, 0x62, 0xFF, 0x63]).write(to: URL(fileURLWithPath: dir + "/bad.txt"))
        let r = try runRNNKit(["charlm", "train", "--text", dir + "/bad.txt"])
        #expect(r.status != 0 && r.stderr.contains("invalid UTF-8 at byte 2"), "\(r.stderr)")
    }
}
