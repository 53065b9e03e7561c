"""The HTML report's core-occupancy picture: one square per core, coloured by layer, at its tile on its chip."""
import re

from snn2hw.report.svg import core_map


def _squares(svg):
    return re.findall(r'<rect x="(\d+)" y="(\d+)" width="\d+" height="\d+" fill="([^"]+)"><title>core (\d+): ([^<]+)'
                      r'</title>', svg)


def test_cores_at_their_tiles_coloured_by_layer():
    # 2 x 2 tiles of 4 cores per chip (16 cores); cores 0-4 layer a, 5 layer b, 17 layer c (chip 1)
    cores = [(c, "a") for c in range(5)] + [(5, "b"), (17, "c")]
    svg = core_map("t", cores, width=2, height=2, cores_per_tile=4)
    sq = {int(c): (int(x), int(y), fill, layer) for x, y, fill, c, layer in _squares(svg)}
    assert set(sq) == {0, 1, 2, 3, 4, 5, 17}
    assert len({sq[c][2] for c in range(5)}) == 1 and sq[5][2] != sq[0][2] != sq[17][2]   # colour per layer
    # cores 0-3 fill tile (0, 0) as a 2 x 2 grid; core 4 is the first core of tile 1 = (1, 0), to the right
    assert sq[1][0] > sq[0][0] and sq[1][1] == sq[0][1] and sq[2][1] > sq[0][1] and sq[2][0] == sq[0][0]
    assert sq[4][0] > sq[1][0] and sq[4][1] == sq[0][1]
    # core 17 is core 1 of chip 1: same place in its panel as core 1 in chip 0's, one panel to the right
    # (a panel: 2 tiles of 2 x 10-px cells + 2 px, plus an 8-px gap)
    assert sq[17][0] - sq[1][0] == 2 * (2 * 10 + 2) + 8 and sq[17][1] == sq[1][1]
    assert "7 cores on 2 chip(s)" in svg


def test_panels_capped_and_said():
    cores = [(c * 16, "a") for c in range(30)]        # one core on each of 30 chips of 16 cores
    svg = core_map("t", cores, width=2, height=2, cores_per_tile=4, max_chips=5)
    assert len(_squares(svg)) == 5 and "chips 0-4 of 30 shown" in svg
