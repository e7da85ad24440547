# table.awk - bench/run.sh's raw figures (build/bench/raw.txt) to the
# Markdown results table.  Variables: nets, threads (space-separated lists,
# the table's order), batch.  Best of the rounds: highest images/s, lowest latency.
# Targets are issue 5's.

function best(key, v, lower) {
    if (!(key in fig) || (lower ? v < fig[key] : v > fig[key]))
        fig[key] = v
}
function have(tool, n, t, m) { return (tool SUBSEP n SUBSEP t SUBSEP m) in fig }
function get(tool, n, t, m) { return fig[tool, n, t, m] }
function num(v, fmt) { return v == "" ? "-" : sprintf(fmt, v) }
function ok(cond) { return cond ? "met" : "NOT met" }

# % of this machine's FMA peak: t threads, img/s, FLOPs per image.
function pct(n, t, ips) {
    if (peak <= 0 || !(n in needed) || ips == "")
        return "-"
    return sprintf("%.1f%%", 100 * ips * needed[n] / (t * peak * 1e9))
}

function cell(r, c, s) {
    cells[r, c] = s
    if (length(s) > width[c])
        width[c] = length(s)
}

# The table held in cells (row 0 the header), padded, as Markdown.
function print_table(rows, cols, r, c, line, sep) {
    for (r = 0; r < rows; r++) {
        line = "|"
        for (c = 0; c < cols; c++)
            line = line sprintf(c < 2 ? " %-*s |" : " %*s |", width[c], cells[r, c])
        print line
        if (r == 0) {
            sep = "|"
            for (c = 0; c < cols; c++)
                sep = sep (c < 2 ? ":" : "-") sprintf("%*s", width[c], "") \
                      (c < 2 ? "-|" : ":|")
            gsub(/ /, "-", sep)
            print sep
        }
    }
}

$1 == "torch" && $2 == "absent" { no_torch = 1; next }
($1 == "cnnc" || $1 == "torch") && $3 == "threads" {
    if ($5 == "model") { model[$2] = $6; next }
    best($1 SUBSEP $2 SUBSEP $4 SUBSEP $5, $6 + 0, $5 == "latency_us_b1" || $5 == "peak_rss_kb")
    if ($1 == "cnnc" && $5 == "train_img_per_s")
        last[$2, $4] = $6 + 0

    next
}
$1 == "fma_peak_gflops" { if ($2 + 0 > peak) peak = $2 + 0; next }
$1 == "fma_peak_wall_gflops" { if ($2 + 0 > peak_wall) peak_wall = $2 + 0; next }
$1 == "fma_peak_kind" { peak_kind = $2; next }
$1 == "flops" { needed[$2] = $8; train3[$2] = $6; next }
$1 == "compile" { compile[$2] = $3; next }
$1 == "rounds" {
    if ($4 + 0 > nrounds[$2, $3]) nrounds[$2, $3] = $4 + 0
    if (($2, $3) in last) round_ips[$2, $3, $4 + 0] = last[$2, $3]   # cnnc's figure of this round
    next
}
$1 == "torch_info" { torch_info = "PyTorch " $3 " (BLAS libraries loaded: " $5 "; oneDNN convolutions " $7 ")"; next }
$1 == "note" { sub(/^note /, ""); notes[++nnotes] = $0; next }
{ key = $1; sub(/^[^ ]+ /, ""); info[key] = $0 }

END {
    nn = split(nets, N, " ")
    nt = split(threads, T, " ")
    target["lenet"] = 5; target["cifar10_conv"] = 3
    target["cifar10_mlp"] = 1.4; target["cifar10_wide"] = 1.8
    torch = !no_torch && torch_info != ""

    print "# cnnc against PyTorch: `make bench`"
    print ""
    print info["date"] ", " info["cpu"] ", commit " info["commit"] "."
    print "Load average (1, 5, 15 min) before: " info["load_start"] "; after: " info["load_end"] "."
    printf "FP32 FMA peak: %.1f GFLOP/s per core (%s; per second of CPU time; best wall-time run %.1f).\n",
           peak, peak_kind, peak_wall
    if (torch)
        print torch_info "."
    else
        print "PyTorch absent (`make bench-deps` installs python3-torch and libopenblas0-openmp): cnnc columns only."
    print "Training and inference at batch " (batch ? batch : 64) \
          ", best of the interleaved rounds (see the round counts below)."
    print ""

    cols = torch ? 12 : 6
    if (torch) {
        split("network|threads|cnnc train img/s|torch train img/s|ratio|target (1 thread)|" \
              "cnnc % peak|torch % peak|cnnc infer img/s|torch infer img/s|" \
              "cnnc b1 latency us|torch b1 latency us", H, "|")
    } else {
        split("network|threads|cnnc train img/s|cnnc % peak|cnnc infer img/s|" \
              "cnnc b1 latency us", H, "|")
    }
    for (c = 1; c <= cols; c++)
        cell(0, c - 1, H[c])
    rows = 1
    for (i = 1; i <= nn; i++) {
        for (j = 1; j <= nt; j++) {
            n = N[i]; t = T[j]
            ct = get("cnnc", n, t, "train_img_per_s")
            tt = get("torch", n, t, "train_img_per_s")
            c = 0
            cell(rows, c++, n)
            cell(rows, c++, t)
            cell(rows, c++, num(ct, "%.0f"))
            if (torch) {
                cell(rows, c++, num(tt, "%.0f"))
                ratio = (ct != "" && tt > 0) ? ct / tt : ""
                cell(rows, c++, num(ratio, "%.2fx"))
                tg = "-"
                if (t == 1 && n in target)
                    tg = sprintf(">= %gx", target[n]) (ratio == "" ? "" : \
                         (ratio >= target[n] ? " met" : " NOT met"))
                cell(rows, c++, tg)
            }
            cell(rows, c++, pct(n, t, ct))
            if (torch)
                cell(rows, c++, pct(n, t, tt))
            cell(rows, c++, num(get("cnnc", n, t, "infer_img_per_s"), "%.0f"))
            if (torch)
                cell(rows, c++, num(get("torch", n, t, "infer_img_per_s"), "%.0f"))
            cell(rows, c++, num(get("cnnc", n, t, "latency_us_b1"), "%.1f"))
            if (torch)
                cell(rows, c++, num(get("torch", n, t, "latency_us_b1"), "%.1f"))
            rows++
        }
    }
    print_table(rows, cols)

    print ""
    print "Other targets and limits of issue 5:"
    w1 = get("cnnc", "cifar10_wide", 1, "train_img_per_s")
    w2 = get("cnnc", "cifar10_wide", 2, "train_img_per_s")
    if (w1 > 0 && w2 != "") {
        s = sprintf("- cifar10_wide training, 2 threads / 1 thread: cnnc %.2fx (target >= 1.8x: %s)",
                    w2 / w1, ok(w2 / w1 >= 1.8))
        t1 = get("torch", "cifar10_wide", 1, "train_img_per_s")
        t2 = get("torch", "cifar10_wide", 2, "train_img_per_s")
        if (torch && t1 > 0 && t2 != "")
            s = s sprintf("; torch %.2fx", t2 / t1)
        print s
        s = ""   # the same ratio within each round (1 and 2 threads measured one after the other)
        for (r = 1; (("cifar10_wide", 1, r) in round_ips) && (("cifar10_wide", 2, r) in round_ips); r++)
            s = s sprintf("%s %.2fx", r > 1 ? "," : "", round_ips["cifar10_wide", 2, r] / round_ips["cifar10_wide", 1, r])
        if (r > 2)
            print "  cnnc's ratio round by round:" s

    }
    s = ""
    for (i = 1; i <= nn; i++) {
        r = get("cnnc", N[i], 1, "peak_rss_kb")
        if (r != "")
            s = s sprintf("%s %s %.1f MB", s == "" ? "" : ",", N[i], r / 1024)
    }
    if (s != "")
        print "- peak resident memory of cnnc's bench process, 1 thread (batch " batch "):" s
    l = get("cnnc", "lenet", 1, "latency_us_b1")
    if (l != "")
        printf "- lenet batch-1 latency, 1 thread: cnnc %.1f us (target <= 20 us: %s)\n", l, ok(l <= 20)
    if ("cnnc_lenet_ms" in compile)
        printf "- cnnc on lenet.net (best of 10): %.1f ms (limit 20 ms: %s)\n",
               compile["cnnc_lenet_ms"], ok(compile["cnnc_lenet_ms"] <= 20)
    split("lenet 3 cifar10_wide 10", L, " ")
    for (k = 1; k <= 3; k += 2) {
        key = "clang_" L[k] "_ms"
        if (key in compile)
            printf "- %s -O2 -march=native -c on the generated %s.c (best of 2): %.2f s, " \
                   "object %.0f kB (limit %d s: %s)\n", compile["compiler"], L[k],
                   compile[key] / 1000, compile["object_" L[k] "_bytes"] / 1024, L[k + 1],
                   ok(compile[key] / 1000 <= L[k + 1])
    }

    print ""
    s = "FLOPs per training image (bench/flops.py; 2 per multiply-add of conv and dense layers, " \
        "forward + backward data + backward weights, less the first layer's data gradient, " \
        "which neither tool computes):"
    for (i = 1; i <= nn; i++)
        if (N[i] in needed)
            s = s sprintf(" %s %.2f M (3x forward: %.2f M)%s", N[i], needed[N[i]] / 1e6,
                          train3[N[i]] / 1e6, i < nn ? "," : ".")
    print s
    s = "Rounds measured:"
    for (i = 1; i <= nn; i++)
        for (j = 1; j <= nt; j++)
            s = s sprintf(" %s/%s %d%s", N[i], T[j], nrounds[N[i], T[j]],
                          i < nn || j < nt ? "," : ".")
    print s
    if (torch) {
        s = ""
        for (i = 1; i <= nn; i++)
            if (model[N[i]] != "idiomatic" && model[N[i]] != "")
                s = s " " N[i]
        print "PyTorch models: nn.Sequential of nn.Conv2d/nn.MaxPool2d/nn.Linear/nn.ReLU, " \
              "checked against tools/netspec.py" (s == "" ? "." : "; netspec.build() for" s ".")
    }
    split(info["load_start"], LD, ",")
    if (LD[1] + 0 > 0.5)
        notes[++nnotes] = sprintf("the machine was not quiet (1-minute load average %.2f at the " \
            "start, on %d cores): the figures are lower and noisier than on an idle machine, " \
            "and PyTorch's 2-thread figures suffer most (its OpenMP threads spin at every " \
            "barrier and lose their time slices to other processes), so 2-thread ratios " \
            "mean little", LD[1], info["cores"])
    if (nnotes)
        print "\nNotes:"
    for (k = 1; k <= nnotes; k++)
        print "- " notes[k]
}
