import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import RNNKit
import Testing

/// `rnnkit train seq2seq`, `eval seq2seq` and `translate` on a task the test writes: reversing a
/// word of the letters a–e into its capitals, spaced ("cab" → "B A C"), chars → words.
@Suite struct Seq2SeqCommandTests {
    /// A folder with 400 training pairs and a test file of 60 others, plus a second reference for
    /// the first test source.
    static func writePairs() throws -> String {
        let dir = NSTemporaryDirectory() + "rnnkit-seq2seq-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 11)
        var seen = Set<String>(), lines: [String] = []
        while lines.count < 460 {
            let word = String((0...(g.next() % 5)).map { _ in "abcde".randomElement(using: &g)! })
            guard seen.insert(word).inserted else { continue }
            lines.append(word + "\t" + word.reversed().map { String($0).uppercased() }.joined(separator: " "))
        }
        try (lines[..<400].joined(separator: "\n") + "\n").write(toFile: dir + "/train.tsv", atomically: true, encoding: .utf8)
        let first = lines[400].split(separator: "\t")[0]
        try (lines[400...].joined(separator: "\r\n") + "\r\n\(first)\tA A A A A A\r\n").write(toFile: dir + "/test.tsv", atomically: true, encoding: .utf8)
        return dir
    }

    static let tiny = ["--target-tokens", "words", "--embedding", "8", "--hidden", "16", "--batch", "16", "--lr", "0.01", "--validation", "40"]

    func lastJSON(_ stdout: String) throws -> [String: Any] {
        let line = try #require(stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func trainEvaluateAndTranslate() throws {
        let dir = try Self.writePairs()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runRNNKit(["train", "seq2seq", "--pairs", dir + "/train.tsv", "--test", dir + "/test.tsv", "--epochs", "8",
                               "--out", dir + "/m", "--json"] + Self.tiny)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("360 training, 40 validation, 61 test") && r.stdout.contains("vocabularies 5 chars → 5 words"), "\(r.stdout)")
        let json = try lastJSON(r.stdout)
        #expect(json["epochs"] as? Int == 8)
        // Reversal is learned: nearly every test word comes out right, scored against the closest of
        // its references (the first test source has a wrong second one), with BLEU for word targets.
        let ser = try #require(json["test_sequence_error_rate"] as? Double)
        let ter = try #require(json["test_token_error_rate"] as? Double)
        let bleu = try #require(json["test_bleu"] as? Double)
        #expect(ser <= 0.1 && ter <= ser && bleu >= 0.8 && json["test_sources"] as? Int == 60, "\(json)")
        #expect((json["validation_sequence_error_rate"] as? Double ?? 1) <= 0.2)
        for file in ["config.json", "model.safetensors", "training_state.safetensors", "metrics.jsonl", "curves.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/m/" + file), "\(file)")
        }
        let config = try String(contentsOfFile: dir + "/m/config.json", encoding: .utf8)
        #expect(config.contains("\"seq2seq\"") && config.contains("\"sourceVocabulary\"") && config.contains("\"E\""))

        // eval seq2seq scores the saved (best) model as train did, greedy; a beam of 3 also decodes.
        let e = try runRNNKit(["eval", "seq2seq", "--model", dir + "/m", "--pairs", dir + "/test.tsv", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let scored = try lastJSON(e.stdout)
        #expect(scored["test_sequence_error_rate"] as? Double == ser && scored["test_token_error_rate"] as? Double == ter)
        #expect(scored["test_bleu"] as? Double == bleu && scored["test_sources"] as? Int == 60)
        let beam = try runRNNKit(["eval", "seq2seq", "--model", dir + "/m", "--pairs", dir + "/test.tsv", "--beam", "3", "--json"])
        let beamSER = try lastJSON(beam.stdout)["test_sequence_error_rate"] as? Double
        #expect(beam.status == 0 && (beamSER ?? 1) <= 0.1, "\(beam.stderr)")

        // translate: arguments, one output per line.
        let t = try runRNNKit(["translate", "--model", dir + "/m", "abc", "ed", "--attention-svg", dir + "/attention.svg"])
        #expect(t.status == 0 && t.stdout == "C B A\nD E\n", "\(t.stdout) \(t.stderr)")
        // The heat map of the first input: a cell per source character and output token (with </s>).
        let svg = try String(contentsOfFile: dir + "/attention.svg", encoding: .utf8)
        #expect(svg.components(separatedBy: "<rect x=").count - 1 == 3 * 4 && svg.contains(">&lt;/s&gt;<") && svg.contains("abc → C B A"))
        #expect(XMLParser(data: Data(svg.utf8)).parse(), "well-formed XML")

        // translate from standard input streams: each output is written before the next line is read.
        let running = try RunningRNNKit(["translate", "--model", dir + "/m"], input: true)
        running.send("abc\n")
        #expect(running.waitForStdout("C B A\n", seconds: 60), "the first output before the input ends")
        running.send("\nbad\n")
        running.closeInput()
        let streamed = running.wait()
        #expect(streamed.status == 0 && streamed.stdout == "C B A\n\nD A B\n", "\(streamed.stdout) \(streamed.stderr)")
        let unseen = try runRNNKit(["translate", "--model", dir + "/m", "abz"])
        #expect(unseen.status == 1 && unseen.stderr.contains("'z' (U+7A) at token 3 of argument 1"), "\(unseen.stderr)")
    }

    /// Stopping after 9 steps and resuming to 20 gives the straight run's weights, optimizer state and
    /// metrics (dropout on, evaluation points between).
    @Test func resumeContinuesExactly() throws {
        let dir = try Self.writePairs()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let flags = ["train", "seq2seq", "--pairs", dir + "/train.tsv", "--dropout", "0.1", "--eval-every", "9"] + Self.tiny
        #expect(try runRNNKit(flags + ["--steps", "20", "--out", dir + "/a"]).status == 0)
        #expect(try runRNNKit(flags + ["--steps", "9", "--out", dir + "/b"]).status == 0)
        let resumed = try runRNNKit(["train", "seq2seq", "--resume", dir + "/b", "--steps", "20"])
        #expect(resumed.status == 0 && resumed.stdout.contains("resuming"), "\(resumed.stderr)")
        let (x, y) = (try Seq2SeqCheckpoint.load(from: dir + "/a", forResume: true), try Seq2SeqCheckpoint.load(from: dir + "/b", forResume: true))
        #expect(x.model.namedParameters.map(\.variable.value) == y.model.namedParameters.map(\.variable.value))
        #expect(x.optimizerState == y.optimizerState && x.best == y.best)
        #expect(try ReliabilityTests.metricsWithoutTimes(dir + "/a") == ReliabilityTests.metricsWithoutTimes(dir + "/b"))
    }
}
