"""Real telephony: Kamailio (SIP edge) and rtpengine (media), driven by Permanence's call control.

``ng`` speaks rtpengine's control protocol; ``config`` writes Kamailio's and rtpengine's configuration
from the project's templates and settings. See docs/telephony.md.
"""
