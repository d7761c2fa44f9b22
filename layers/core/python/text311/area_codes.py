"""North American area codes that belong to Canada (CRTC / CNA assignments).

Every other +1 number is treated as US for the purpose of a hint; the hint never
decides on its own (see ``text311.directory``).
"""

CANADIAN_AREA_CODES: frozenset[str] = frozenset(
    """
    204 226 236 249 250 257 263 289 306 343 354 365 367 368 382 387 403 416 418 428
    431 437 438 450 460 468 474 506 514 519 548 579 581 584 587 600 604 613 639 647
    672 683 705 709 742 753 778 780 782 807 819 825 867 873 879 902 905 942
    """.split()
)
