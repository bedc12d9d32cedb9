import Foundation
import RNNKit
import Testing

/// `rnnkit train|eval|predict forecast` on series the tests write.
@Suite struct ForecastCommandTests {
    /// A monthly series with a trend and a yearly season, plus a covariate: level = 100 + 0.8 t +
    /// 5 sin(2πt/12) + noise. Dates from 2000-01-01 (month starts); the rows written shuffled.
    static func writeSeries(_ path: String, steps: Int, seed: UInt64, missing: [Int] = []) throws {
        var generator = SeededGenerator(seed: seed)
        var rows: [String] = []
        for t in 0..<steps {
            let noise = (Double(generator.next() % 1000) / 1000 - 0.5) * 0.6
            let level = 100 + 0.8 * Double(t) + 5 * sin(2 * Double.pi * Double(t) / 12) + noise
            let month = String(format: "%04d-%02d-01", 2000 + t / 12, t % 12 + 1)
            rows.append("\(month),\(missing.contains(t) ? "" : String(format: "%.4f", level)),\(String(format: "%.3f", cos(2 * Double.pi * Double(t) / 12)))")
        }
        for i in stride(from: rows.count - 1, to: 0, by: -1) { rows.swapAt(i, Int(generator.next() % UInt64(i + 1))) }
        try Data((["month,sales,season_cos"] + rows).joined(separator: "\n").appending("\n").utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func trainEvaluatePredictAndResume() throws {
        let dir = NSTemporaryDirectory() + "rnnkit-forecast-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeSeries(dir + "/s.csv", steps: 240, seed: 3)
        let flags = ["train", "forecast", "--csv", dir + "/s.csv", "--target", "sales", "--features", "season_cos", "--time", "month",
                     "--window", "24", "--horizon", "3", "--season", "12", "--test", "24", "--hidden", "16", "--lr", "0.01"]
        let r = try runRNNKit(flags + ["--epochs", "8", "--out", dir + "/a", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try SequenceTests().lastJSON(r.stdout)
        let mae = try #require(json["test_mae"] as? Double), persistence = try #require(json["persistence_mae"] as? Double)
        #expect(mae < persistence && json["beats_persistence"] as? Bool == true, "\(r.stdout)")
        #expect(json["seasonal_naive_mae"] is Double && json["test_rmse"] is Double && json["test_origins"] as? Int == 22)
        #expect(r.stdout.contains("the model beats persistence") && r.stdout.contains("seasonal naive 12"), "\(r.stdout)")

        // forecast.csv: 22 origins × 3 steps; forecast.svg an SVG document.
        let rows = try String(contentsOfFile: dir + "/a/forecast.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 1 + 22 * 3 && rows[0] == "series,origin_time,time,step,target,actual,forecast,persistence,seasonal_naive")
        #expect(rows[1].hasPrefix(",2017-12-01,2018-01-01,1,sales,"), "the first test step is month 216: \(rows[1])")
        let svg = try String(contentsOfFile: dir + "/a/forecast.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg ") && svg.hasSuffix("</svg>\n") && svg.components(separatedBy: "<polyline").count >= 4
                && svg.contains("— forecast") && svg.contains("2019-12-01"), "history, actual and forecasts to the last month")

        // eval reads the same columns and finds the same errors; predict continues the months.
        let e = try runRNNKit(["eval", "forecast", "--model", dir + "/a", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try SequenceTests().lastJSON(e.stdout)["test_mae"] as? Double == mae)
        let p = try runRNNKit(["predict", "forecast", "--model", dir + "/a", "--csv", dir + "/s.csv"])
        #expect(p.status == 0, "\(p.stderr)")
        let lines = p.stdout.split(separator: "\n")
        #expect(lines.count == 4 && lines[0] == "time,step,sales" && lines[1].hasPrefix("2020-01-01,1,") && lines[3].hasPrefix("2020-03-01,3,"),
                "\(p.stdout)")
        // The trend continues: the forecasts lie near 100 + 0.8 t at t = 240…242.
        let first = try #require(Double(lines[1].split(separator: ",")[2]))
        #expect(abs(first - 292) < 8, "\(first)")

        // Resume continues exactly.
        #expect(try runRNNKit(flags + ["--epochs", "4", "--out", dir + "/b"]).status == 0)
        let resumed = try runRNNKit(["train", "forecast", "--resume", dir + "/b", "--epochs", "8", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try SequenceTests().lastJSON(resumed.stdout)["test_mae"] as? Double == mae)
        for file in ["model.safetensors", "forecast.csv"] {
            #expect(FileManager.default.contents(atPath: dir + "/a/" + file) == FileManager.default.contents(atPath: dir + "/b/" + file), "\(file)")
        }
        let changed = try runRNNKit(["train", "forecast", "--resume", dir + "/b", "--window", "12"])
        #expect(changed.status != 0 && changed.stderr.contains("--window"), "\(changed.stderr)")
    }

    @Test func missingValuesAndBadSetups() throws {
        let dir = NSTemporaryDirectory() + "rnnkit-forecast-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeSeries(dir + "/m.csv", steps: 120, seed: 4, missing: [30, 31, 77])
        let base = ["train", "forecast", "--csv", dir + "/m.csv", "--target", "sales", "--time", "month", "--window", "12", "--horizon", "2",
                    "--hidden", "8", "--epochs", "1", "--out", dir + "/o"]
        let refused = try runRNNKit(base)
        #expect(refused.status == 1 && refused.stderr.contains("missing values in data row(s)") && refused.stderr.contains("--missing interpolate"),
                "\(refused.stderr)")
        for policy in ["interpolate", "drop"] {
            let r = try runRNNKit(base + ["--missing", policy, "--json"])
            #expect(r.status == 0, "\(policy): \(r.stderr)")
        }
        for (extra, fragment) in [
            (["--missing", "drop", "--window", "100"], "has 117 steps"),
            (["--missing", "drop", "--target", "revenue"], "no column 'revenue'"),
            (["--missing", "drop", "--readout", "steps"], "--readout steps"),
            (["--missing", "drop", "--horizon", "0"], "--horizon must be at least 1"),
            (["--missing", "drop", "--mode", "log"], "--mode"),
            (["--missing", "drop", "--test", "1"], "--test 1 holds no whole forecast of --horizon 2 steps"),
            (["--missing", "drop", "--validation", "1"], "give 0 or at least 2"),
        ] {
            let r = try runRNNKit(base + extra)
            #expect(r.status != 0 && r.stderr.contains(fragment), "\(extra): \(r.stderr)")
        }
        let preset = try runRNNKit(["train", "forecast", "--preset", "nowcast"])
        #expect(preset.status != 0 && preset.stderr.contains("unknown preset 'nowcast'"), "\(preset.stderr)")
        let noModel = try runRNNKit(["predict", "forecast", "--model", dir + "/none", "--csv", dir + "/m.csv"])
        #expect(noModel.status == 1 && noModel.stderr.contains("config.json"), "\(noModel.stderr)")
    }
}
