#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ISSC link, headless: images over the simulated multi-antenna channel while sensing a target,
with the optimiser choosing the codec model, the code rate and the beams between frames.

    python examples/issc_link.py --scenario tradeoff --frames 12 --out results

Writes to --out: frames.jsonl (one row per frame, appended as frames complete), summary.json,
frames/frame_NNNN.png (original | received, as frames complete) and summary.png; prints the per-frame
table. Ctrl-C stops cleanly (the frames so far are reported). The two ends can run apart:

    python examples/issc_link.py --frames 4 --tx-to air.cf32      # transmitter + channels only
    python examples/issc_link.py --rx-from air.cf32 --out results  # receiver + monitor, from the air

The hardware waveform (RRC pulses at several samples per symbol) and the receiver's front-end
impairments, which its synchroniser then has to undo:

    python examples/issc_link.py --sps 4 --rolloff 0.35 --cfo 0.01 --sro-ppm 100 --phase-noise-hz 1000

A scenario with a users list of two or more users runs the multi-user link (docs/multiuser.md "The GNU
Radio link": K users by superposition, each user's receiver keeps its own frames; frames.jsonl has one row
per user and frame and one per slot; the default power schedule does not apply, --schedule does):

    python examples/issc_link.py --scenario multiuser-sensing --frames 8 --out results

Exit codes: 0 every frame sent and accounted for; 1 the run ended short (timeout, stall: the reason is
printed and in summary.json); 2 bad arguments or input (e.g. an unreadable image file named with
--images); 130 Ctrl-C.
"""

import argparse
import signal
import sys

from gnuradio.issc.cli.common import finite_float, float_in, non_negative_float, positive_float, positive_int

DEFAULT_SCHEDULE = "0:22,3:24,6:28,9:34"


def schedule_arg(text):
    """'FRAME:POWER_DBM[:PI],...' -> [(frame, power, pi or None), ...]"""
    steps = []
    for item in filter(None, text.split(",")):
        parts = item.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            frame, power = int(parts[0]), float(parts[1])
            pi = float(parts[2]) if len(parts) == 3 else None
        except ValueError:
            raise argparse.ArgumentTypeError(f"schedule step '{item}' must be FRAME:POWER_DBM[:PI_M2]") from None
        steps.append((frame, power, pi))
    return steps


def abr_arg(text):
    from gnuradio.issc.cli.optim import abr_value

    return abr_value(text)


def format_db(value):
    """'23.17 dB', or 'n/a' when there is no value (no frame received)."""
    return "n/a" if value is None else f"{value:.2f} dB"


def build_parser():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    link = p.add_argument_group("link")
    link.add_argument("--scenario", default="tradeoff", help="shipped scenario name or YAML file (default tradeoff)")
    link.add_argument("--frames", type=positive_int, default=12, help="images to send (default 12)")
    link.add_argument(
        "--images",
        default="",
        metavar="DIR|FILE",
        help="image folder (unreadable files in it are skipped with a warning) or one image file "
        "(default: shipped test images)",
    )
    link.add_argument("--size", type=int, default=0, help="crop images to SIZE x SIZE (default: as they are)")
    link.add_argument("--seed", type=int, default=0)
    link.add_argument(
        "--sensing-every",
        type=positive_int,
        default=None,
        metavar="K",
        help="estimate one sensing block in K (default 4; 2 when the scenario tracks a target)",
    )
    air = p.add_argument_group('waveform and impairments (docs/link.md "The hardware waveform")')
    air.add_argument(
        "--sps",
        type=positive_int,
        default=None,
        metavar="N",
        help="samples per symbol of the RRC-shaped waveform (default: the scenario's, 1 = unshaped)",
    )
    air.add_argument(
        "--rolloff", type=float_in(0.01, 1.0), default=None, metavar="R", help="RRC roll-off (default the scenario's)"
    )
    air.add_argument(
        "--cfo",
        type=float_in(-0.25, 0.25, "cycles per symbol"),
        default=0.0,
        metavar="F",
        help="carrier frequency offset at the receiver, cycles per symbol (e.g. 0.01 = 1%% of the symbol rate)",
    )
    air.add_argument("--sro-ppm", type=float_in(-1e4, 1e4, "ppm"), default=0.0, metavar="X", help="sample-rate offset")
    air.add_argument(
        "--phase-noise-hz", type=non_negative_float, default=0.0, metavar="HZ", help="phase-noise 3 dB linewidth"
    )
    air.add_argument(
        "--timing-offset", type=float_in(0.0, 1e6, "samples"), default=0.0, metavar="S", help="sampling delay"
    )
    air.add_argument("--iq-gain-db", type=finite_float, default=0.0, metavar="DB", help="IQ gain imbalance")
    air.add_argument("--iq-phase-deg", type=finite_float, default=0.0, metavar="DEG", help="IQ phase imbalance")
    ctl = p.add_argument_group("control")
    ctl.add_argument(
        "--scheme",
        choices=("ascc", "djscc"),
        default="ascc",
        help="ascc (hyperprior codec + polar code, default) or djscc (the deep JSCC benchmark's "
        "analog frames; with --solver zf-wf it is DJSCC-WF-ZF)",
    )
    ctl.add_argument(
        "--djscc-loss",
        choices=("ae", "vae", "vscc"),
        default="ae",
        help="--scheme djscc: the models' training loss, ae (default), vae or vscc (best d per SNR; "
        "VAE and VSCC models at ABR 1/16, docs/vscc.md)",
    )
    ctl.add_argument("--solver", choices=("sdr", "paper", "zf-wf"), default="sdr")
    ctl.add_argument("--abr", type=abr_arg, default=None, help="bandwidth ratio, e.g. 1/32 (default: the scenario's)")
    ctl.add_argument("--metric", choices=("mse", "ms_ssim"), default="mse")
    ctl.add_argument(
        "--ber-model",
        choices=("calibrated", "normal"),
        default="calibrated",
        help="code BER the optimiser assumes: the measured polar-code table (default) or the normal approximation",
    )
    ctl.add_argument(
        "--schedule",
        type=schedule_arg,
        default=schedule_arg(DEFAULT_SCHEDULE),
        help=f"power/threshold schedule FRAME:POWER_DBM[:PI_M2],... (default {DEFAULT_SCHEDULE}; '' for none)",
    )
    ctl.add_argument(
        "--sensing-surplus",
        choices=("on", "off"),
        default="on",
        help="sdr: spend the SINR the chosen model and rate do not need on sensing (default on)",
    )
    ctl.add_argument("--profile", default="", help="codec profile (default: shipped)")
    ctl.add_argument("--codec-dir", default="", help="codec family directory (default: shipped)")
    out = p.add_argument_group("output")
    out.add_argument("--out", default="results", metavar="DIR", help="output directory (default results)")
    out.add_argument(
        "--timeout", type=positive_float, default=1800.0, help="give up after this many seconds (default 1800)"
    )
    out.add_argument(
        "--stall-timeout",
        type=positive_float,
        default=300.0,
        metavar="S",
        help="give up when nothing moved for S seconds (a frame that will not come; default 300)",
    )
    out.add_argument(
        "--sigmf",
        default="",
        metavar="DIR",
        help="also write SigMF recordings of the transmitted streams, the receiver's input and the echo "
        "streams to DIR (replay them with issc replay)",
    )
    split = out.add_mutually_exclusive_group()
    split.add_argument(
        "--tx-to",
        default=None,
        metavar="FILE",
        help="run only the transmitter and the channels; write the samples the communication receiver "
        "gets to FILE (cf32) and end when the frames are sent",
    )
    split.add_argument(
        "--rx-from",
        default=None,
        metavar="FILE",
        help="run only the receiver and the monitor on a --tx-to recording (configuration from the air "
        "only; --images/--size name the originals for PSNR); writes --out as a whole run does",
    )
    return p


def ended_short(summary, what="frames"):
    """The line explaining why a run ended before its work was done ('' if it did not)."""
    if summary.get("complete"):
        return ""
    reason = summary.get("end_reason")
    why = {
        "timeout": "the --timeout was reached",
        "stalled": "nothing moved for --stall-timeout seconds (a frame that will not come)",
        "interrupted": "interrupted",
    }.get(reason, reason)
    if summary.get("images_failed"):
        failed = f"{summary['images_failed']} image(s) could not be read when due"
        why = failed if reason == "complete" else f"{why}; {failed}"
    done = summary.get("frames_sent", summary.get("frames"))
    wanted = summary.get("frames_requested")
    count = f" after {done}/{wanted} {what}" if wanted is not None else ""
    return f"run ended short{count}: {why}"


def exit_code(summary):
    if summary.get("interrupted"):
        return 130
    return 0 if summary.get("complete") else 1


def main(argv=None):
    args = build_parser().parse_args(argv)
    from gnuradio.issc.errors import IsscInputError
    from gnuradio.issc.files import check_output_dir

    try:
        multiuser = is_multiuser(args)  # refuses a split (--tx-to/--rx-from) multi-user run
        if args.tx_to is not None:
            return run_tx(args)
        out = check_output_dir(args.out)
        if multiuser:
            link = build_multiuser_link(args, out)
        else:
            link = build_link(args, out) if args.rx_from is None else build_rx(args, out)
    except (IsscInputError, ValueError, OSError) as exc:
        sys.stderr.write(f"issc_link.py: error: {exc}\n")
        return 2
    signal.signal(signal.SIGINT, lambda *_: link.interrupt())
    summary = link.run_frames(args.timeout, args.stall_timeout)
    return report_multiuser(args, summary, out) if multiuser else report(args, link, summary, out)


def is_multiuser(args):
    """True for a scenario with a users list of two or more users (the multi-user link); a split run of one
    is refused (IsscInputError)."""
    from gnuradio.issc.errors import IsscInputError

    scn = scenario_of(args)
    if len(scn.users or []) < 2:
        return False
    if args.rx_from is not None or args.tx_to is not None:
        raise IsscInputError(f"scenario '{scn.name}' has {len(scn.users)} users: --tx-to/--rx-from are single-user")
    if args.scheme != "ascc":
        raise IsscInputError("the multi-user link is --scheme ascc (codec and semantic families, polar frames)")
    return True


def build_multiuser_link(args, out):
    from gnuradio.issc.flowgraphs.multiuser_link import IsscMultiUserLink

    scn = scenario_of(args)
    default = args.schedule == schedule_arg(DEFAULT_SCHEDULE)  # the single-user demo's powers: not these users'
    return IsscMultiUserLink(
        scn,
        args.frames,
        args.images,
        str(out),
        args.seed,
        args.solver,
        None if default else args.schedule,
        args.profile,
        args.codec_dir,
        size=args.size,
        sensing_every=args.sensing_every or 4,
        ber_model=args.ber_model,
    )


def report_multiuser(args, summary, out):
    """The per-user table and summary.json of a multi-user run; the exit code."""
    from gnuradio.issc.files import atomic_write_json
    from gnuradio.issc.jsonutil import jsonable

    atomic_write_json(out / "summary.json", jsonable(summary))
    print("user task      weight frames received bit_errors  SINR dB (predicted)  metric       models (R_c)")
    for u in summary["users"]:
        metric = "-" if u["task_metric"] is None else f"{u['metric_name']} {u['task_metric']:.3f}"
        models = ", ".join(f"{m} x{n}" for m, n in u["models"].items()) or "none"
        rate = "-" if u["code_rate"] is None else f"{u['code_rate']:.3f}"
        print(
            f"{u['user']:>4} {u['task']:<9} {u['weight']:>6.2f} {u['frames']:>6} {u['frames_received']:>8} "
            f"{u['bit_errors']:>10}  {format_db(u['sinr_db'])} ({format_db(u['predicted_sinr_db'])})  "
            f"{metric:<12} {models} ({rate})"
        )
    weighted, predicted = summary["weighted_distortion"], summary["predicted_weighted_distortion"]
    print(
        f"\n{summary['frames_delivered']} frames delivered in {summary['frames_sent']} slots of "
        f"{len(summary['users'])} users; weighted distortion "
        f"{'-' if weighted is None else f'{weighted:.4f}'} (predicted "
        f"{'-' if predicted is None else f'{predicted:.4f}'}); {summary['samples']} samples in "
        f"{summary['elapsed_s']:.1f} s. Results in {out}/"
    )
    if summary.get("sensing_estimates"):
        rmse = summary["sensing_rmse_m"]
        print(f"sensing: {summary['sensing_estimates']} estimates, RMSE {'-' if rmse is None else f'{rmse:.2f}'} m")
    short = ended_short(summary)
    if short:
        sys.stderr.write(f"issc_link.py: {short}\n")
    return exit_code(summary)


def scenario_of(args):
    """The scenario with the waveform options applied (--sps, --rolloff)."""
    from gnuradio.issc.scenario import load_scenario

    scn = load_scenario(args.scenario)
    signal = {}
    if args.sps is not None:
        signal["samples_per_symbol"] = args.sps
    if args.rolloff is not None:
        signal["rolloff"] = args.rolloff
    return scn.replace(signal=signal) if signal else scn


def impairments_of(args, scn):
    """The communication channel's impairments (its keywords; the CFO from cycles per symbol to Hz)."""
    symbol_rate = scn.signal.bandwidth_hz / scn.signal.samples_per_symbol
    values = {
        "cfo_hz": args.cfo * symbol_rate,
        "linewidth_hz": args.phase_noise_hz,
        "timing_offset": args.timing_offset,
        "sro_ppm": args.sro_ppm,
        "iq_gain_db": args.iq_gain_db,
        "iq_phase_deg": args.iq_phase_deg,
    }
    return {key: value for key, value in values.items() if value}


def build_link(args, out):
    from gnuradio.issc.flowgraphs.link import IsscLink

    scn = scenario_of(args)
    every = args.sensing_every or (2 if scn.tracking.enabled else 4)
    return IsscLink(
        scn,
        args.frames,
        args.images,
        str(out),
        args.seed,
        args.solver,
        args.metric,
        args.schedule,
        args.profile,
        args.codec_dir,
        args.size,
        sensing_every=every,
        ber_model=args.ber_model,
        scheme=args.scheme,
        abr=args.abr,
        keep_rows=0,  # the table is read back from frames.jsonl: memory stays flat however long the run
        frames_dir=str(out / "frames"),
        sigmf_dir=args.sigmf,
        impairments=impairments_of(args, scn),
        sensing_surplus=args.sensing_surplus == "on",
        djscc_loss=args.djscc_loss,
    )


def build_rx(args, out):
    from gnuradio.issc.flowgraphs.link import IsscLinkRx

    return IsscLinkRx(
        args.rx_from,
        str(out),
        args.images,
        args.size,
        scenario_of(args),
        args.scheme,
        args.codec_dir,
        keep_rows=0,
        frames_dir=str(out / "frames"),
    )


def run_tx(args):
    from gnuradio.issc.errors import IsscInputError
    from gnuradio.issc.flowgraphs.link import IsscLinkTx

    try:
        scn = scenario_of(args)
        every = args.sensing_every or (2 if scn.tracking.enabled else 4)
        link = IsscLinkTx(
            scn,
            args.frames,
            args.images,
            args.tx_to,
            args.seed,
            args.solver,
            args.metric,
            args.schedule,
            args.profile,
            args.codec_dir,
            args.size,
            sensing_every=every,
            ber_model=args.ber_model,
            scheme=args.scheme,
            abr=args.abr,
            impairments=impairments_of(args, scn),
            djscc_loss=args.djscc_loss,
            sensing_surplus=args.sensing_surplus == "on",
        )
    except (IsscInputError, ValueError, OSError) as exc:
        sys.stderr.write(f"issc_link.py: error: {exc}\n")
        return 2
    signal.signal(signal.SIGINT, lambda *_: link.interrupt())
    summary = link.run_frames(args.timeout, args.stall_timeout)
    print(
        f"{summary['frames_sent']}/{summary['frames_requested']} frames, {summary['samples']} samples "
        f"({summary['samples'] * 8} bytes cf32) written to {summary['file']} in {summary['elapsed_s']:.1f} s"
    )
    short = ended_short(summary)
    if short:
        sys.stderr.write(f"issc_link.py: {short}\n")
    return exit_code(summary)


def report(args, link, summary, out):
    """The table, the summary figure and summary.json of a finished (or stopped) run; the exit code."""
    from gnuradio.issc.files import atomic_write_json
    from gnuradio.issc.jsonutil import jsonable
    from gnuradio.issc.link.report import format_table, load_rows, plot_summary

    rows = load_rows(out / "frames.jsonl")
    print(format_table(rows))
    plot_summary(rows, out / "summary.png")
    atomic_write_json(out / "summary.json", jsonable(summary))
    models = ", ".join(summary["models"]) or "none"
    if args.rx_from is not None:
        print(
            f"\n{summary['frames_received']} frames received from {args.rx_from}, {summary['headers_failed']} "
            f"headers failed, mean PSNR {format_db(summary['mean_psnr'])}, models {models}; "
            f"{summary['samples']} samples in {summary['elapsed_s']:.1f} s. Results in {out}/"
        )
    else:
        print(
            f"\n{summary['frames_received']}/{summary['frames']} frames received, {summary['headers_failed']} "
            f"headers failed, mean PSNR {format_db(summary['mean_psnr'])}, models {models}; "
            f"{summary['samples']} samples in {summary['elapsed_s']:.1f} s. Results in {out}/"
        )
    for path in summary.get("images_skipped", []):
        print(f"skipped unreadable image {path}")
    if getattr(link, "tracking", False) and summary.get("mean_tracking_error_m") is not None:
        print(
            f"tracking: mean error {summary['mean_tracking_error_m']:.2f} m between the designed and the true "
            f"target position (max {summary['max_tracking_error_m']:.2f} m), mean estimate error "
            f"{summary['mean_sensing_error_m']:.2f} m, {summary['frames_track_lost']} frames with the track lost"
        )
    short = ended_short(summary)
    if short:
        sys.stderr.write(f"issc_link.py: {short}\n")
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(main())
