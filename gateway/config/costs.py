"""The `costs:` section: which board, radio and cloud, and the coefficients of the estimates.

Energy and money are derived from measured quantities (edge CPU seconds, uplink bytes,
cloud calls and inference seconds) with the coefficients below, one table. Each
coefficient's source is in `docs/costs.md` (a test holds every field to a source line
there). Every derived figure names the coefficients it used (`gateway.costs.estimate`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.config.base import Section

Board = Literal["pi4", "pi5", "jetson"]
Radio = Literal["lte", "wifi"]
CloudKind = Literal["cpu", "gpu"]


class Coefficients(Section):
    """The coefficients table (sources: docs/costs.md)."""

    pi4_idle_w: float = Field(2.7, gt=0, le=1000, description="Raspberry Pi 4 B at idle, W.")
    pi4_load_w: float = Field(
        6.3, gt=0, le=1000, description="Raspberry Pi 4 B, all cores busy, W."
    )
    pi4_cores: int = Field(4, ge=1, le=256, description="Raspberry Pi 4 B CPU cores.")
    pi5_idle_w: float = Field(3.0, gt=0, le=1000, description="Raspberry Pi 5 at idle, W.")
    pi5_load_w: float = Field(8.8, gt=0, le=1000, description="Raspberry Pi 5, all cores busy, W.")
    pi5_cores: int = Field(4, ge=1, le=256, description="Raspberry Pi 5 CPU cores.")
    jetson_idle_w: float = Field(
        2.6, gt=0, le=1000, description="Jetson Orin Nano (8 GB) board at idle, W."
    )
    jetson_load_w: float = Field(
        15.0, gt=0, le=1000, description="Jetson Orin Nano in its 15 W power mode, busy, W."
    )
    jetson_cores: int = Field(6, ge=1, le=256, description="Jetson Orin Nano CPU cores.")
    lte_j_per_mb: float = Field(
        5.22, ge=0, le=1000, description="LTE radio energy per MB sent upstream, J/MB."
    )
    wifi_j_per_mb: float = Field(
        2.44, ge=0, le=1000, description="Wi-Fi radio energy per MB sent upstream, J/MB."
    )
    lte_price_per_gb: float = Field(
        2.59, ge=0, le=10_000, description="Cellular data price per GB (currency per GB)."
    )
    wifi_price_per_gb: float = Field(
        0.0,
        ge=0,
        le=10_000,
        description="Data price per GB on a flat-rate fixed line behind Wi-Fi (0: no marginal "
        "cost).",
    )
    network_rtt_ms: float = Field(
        50.0, ge=0, le=60_000, description="Network round trip, gateway or camera to cloud, ms."
    )
    uplink_mbps: float = Field(
        6.0, gt=0, le=100_000, description="Uplink rate for the transfer time of a request, Mbit/s."
    )
    cloud_cpu_price_per_hour: float = Field(
        0.085, ge=0, le=10_000, description="Cloud CPU instance (2 vCPU) per hour."
    )
    cloud_gpu_price_per_hour: float = Field(
        0.526, ge=0, le=10_000, description="Cloud GPU instance (one NVIDIA T4) per hour."
    )
    cloud_cpu_w: float = Field(
        7.0, ge=0, le=100_000, description="Cloud CPU instance (2 vCPU) power while inferring, W."
    )
    cloud_gpu_w: float = Field(
        70.0, ge=0, le=100_000, description="Cloud GPU (NVIDIA T4) power while inferring, W."
    )
    cloud_pue: float = Field(
        1.135, ge=1, le=5, description="Data-centre power usage effectiveness (facility/IT)."
    )
    electricity_price_per_kwh: float = Field(
        0.16, ge=0, le=100, description="Electricity price at the edge, per kWh."
    )
    allcloud_s_per_frame: float = Field(
        0.1,
        ge=0,
        le=3600,
        description="Cloud inference seconds per whole frame, for the live all-cloud estimate "
        "(`edgegw demo` and `bench/hybrid.py` measure it on the reference cloud).",
    )


class CostsSection(Section):
    """Estimates of energy and money: the deployment and its coefficients."""

    board: Board = Field("pi4", description="The gateway's board: `pi4`, `pi5` or `jetson`.")
    radio: Radio = Field("lte", description="The uplink: `lte` or `wifi`.")
    cloud: CloudKind = Field(
        "cpu",
        description="The cloud instance that runs the model: `cpu` (what the reference cloud "
        "measures on) or `gpu`.",
    )
    edge_cpu_scale: float = Field(
        1.0,
        gt=0,
        le=1000,
        description="Board CPU seconds per measured CPU second (1.0: measured on the board "
        "itself; a slower board than the measuring machine needs more).",
    )
    currency: str = Field(
        "USD", min_length=1, max_length=8, description="Currency of the prices (a label only)."
    )
    coefficients: Coefficients = Field(
        default_factory=Coefficients, description="The coefficients table (docs/costs.md)."
    )
