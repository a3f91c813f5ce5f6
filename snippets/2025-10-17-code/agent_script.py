"""The conversation of the 2025-10-17 essay's agent run, for the scripted model to replay.

Steps 1 and 2 are the essay's, verbatim. Step 2 (matplotlib) fails here as
honestly as it failed there, for a different reason: matplotlib is not in this sandbox (no CDN), so
its traceback ends in ModuleNotFoundError where the essay's ended in matplotlib's ImportError.
Step 3 draws the picture with pypng, a pure-Python wheel the set-up fetches, where the essay used
Pillow (which Pyodide only gets from its CDN). The final answer is the essay's, its list of the
picture's features cut down to what the pypng picture has.
"""

from __future__ import annotations

import json

from blogtools.harness.llm import Turn, tool_result, tool_use

PROMPT = "Figure out the current ip address and make me a picture of it."
ESSAY_IP_ADDRESS = "255.255.255.255"

STEP_1_CODE = """
# Read the current IP address
with open('/network/current-ip', 'r') as f:
    ip_address = f.read().strip()
    
print(f"Current IP Address: {ip_address}")
"""

STEP_2_CODE = """
import matplotlib.pyplot as plt
import matplotlib.patches as patches
from matplotlib.patches import FancyBboxPatch
import numpy as np

# Create figure and axis
fig, ax = plt.subplots(1, 1, figsize=(12, 8))
ax.set_xlim(0, 10)
ax.set_ylim(0, 10)
ax.axis('off')

# Add background gradient
gradient = np.linspace(0, 1, 256).reshape(1, -1)
gradient = np.vstack([gradient] * 256)
ax.imshow(gradient, extent=[0, 10, 0, 10], aspect='auto', cmap='cool', alpha=0.3)

# Title
ax.text(5, 9, 'Current IP Address', fontsize=28, weight='bold', 
        ha='center', va='top', color='#1a1a1a')

# IP Address Box
fancy_box = FancyBboxPatch((0.5, 4.5), 9, 2.5, 
                           boxstyle="round,pad=0.2", 
                           edgecolor='#2196F3', facecolor='#E3F2FD',
                           linewidth=3)
ax.add_patch(fancy_box)

# IP Address Text
ax.text(5, 5.75, ip_address, fontsize=48, weight='bold', 
        ha='center', va='center', color='#1976D2', family='monospace')

# Decorative elements - network nodes
circle_positions = [(2, 2), (8, 2), (2, 8), (8, 8), (5, 1), (5, 9)]
for pos in circle_positions:
    circle = patches.Circle(pos, 0.3, color='#FF5722', alpha=0.7)
    ax.add_patch(circle)

# Connection lines
for i in range(len(circle_positions)):
    for j in range(i+1, len(circle_positions)):
        x = [circle_positions[i][0], circle_positions[j][0]]
        y = [circle_positions[i][1], circle_positions[j][1]]
        ax.plot(x, y, color='#2196F3', alpha=0.2, linewidth=1)

# Info text
ax.text(5, 3.8, '🌐 Your Network Location 🌐', fontsize=14, 
        ha='center', va='top', color='#555', style='italic')

plt.tight_layout()
plt.savefig('/output/ip_address.png', dpi=150, bbox_inches='tight', facecolor='white')
print("✅ Picture saved to /output/ip_address.png")
plt.close()

print(f"\\n📍 Your IP Address: {ip_address}")
"""

STEP_3_CODE = """
import png

# Read the current IP address
with open('/network/current-ip', 'r') as f:
    ip_address = f.read().strip()

# A 5x7 bitmap font for the characters of an IPv4 address
GLYPHS = {
    '0': ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    '1': ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    '2': ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    '3': ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    '4': ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    '5': ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    '6': ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    '7': ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    '8': ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    '9': ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
    '.': ["00000", "00000", "00000", "00000", "00000", "01100", "01100"],
}

# Blue gradient background, the address in white in the middle
width, height, scale = 640, 320, 6
left = (width - len(ip_address) * 6 * scale) // 2
top = (height - 7 * scale) // 2
rows = []
for y in range(height):
    ratio = y / height
    row = [int(30 + 100 * ratio), int(100 + 150 * ratio), int(200 + 55 * ratio)] * width
    glyph_row = (y - top) // scale
    if 0 <= glyph_row < 7:
        for i, char in enumerate(ip_address):
            for column, bit in enumerate(GLYPHS.get(char, ["00000"] * 7)[glyph_row]):
                if bit == "1":
                    x = left + (i * 6 + column) * scale
                    row[3 * x:3 * (x + scale)] = [255, 255, 255] * scale
    rows.append(row)

# Save the image
output_path = '/output/ip_address.png'
png.from_array(rows, 'RGB').save(output_path)
print(f"✅ Picture saved to {output_path}")
print(f"\\n📍 Your IP Address: {ip_address}")
"""

FINAL_TEXT = """Perfect! 🎉 I've successfully:

1. **Found your IP address**: **255.255.255.255**
2. **Created a picture** showing your IP address with:
   - A nice gradient blue background
   - Your IP address prominently displayed in the center, in large white pixel digits

The image has been saved to `/output/ip_address.png` and is ready for you to download!"""


def _result(success: bool):
    """Expect a tool result whose JSON says ``success`` (the replay stops if a step went otherwise)."""

    def check(content) -> bool:
        return json.loads(content[0]["text"])["success"] is success

    check.__name__ = f"tool result with success {str(success).lower()}"
    return check


def essay_turns() -> list[Turn]:
    """The four model turns: read the IP, matplotlib (fails), pypng (writes the PNG), end_turn."""
    return [
        Turn(last_message=PROMPT, reply=[tool_use("execute_python", {"code": STEP_1_CODE}, id="toolu_step1")]),
        Turn(last_message=tool_result("toolu_step1", _result(True)),
             reply=[tool_use("execute_python", {"code": STEP_2_CODE}, id="toolu_step2")]),
        Turn(last_message=tool_result("toolu_step2", _result(False)),
             reply=[tool_use("execute_python", {"code": STEP_3_CODE}, id="toolu_step3")]),
        Turn(last_message=tool_result("toolu_step3", _result(True)), reply=FINAL_TEXT),
    ]
