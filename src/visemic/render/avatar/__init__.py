"""The built-in avatar: a stylised 2.5D face drawn with skia from ARKit-52 values + head angles.

Everything is vector shapes (no image assets), drawn anti-aliased straight into a NumPy-backed
skia surface. Shapes are laid out on a 512×512 reference canvas and scaled to the output size.

Conventions (ARKit's): "Left" channels are the *character's* left, which is the right of the
picture. The lips are apart by ``jawOpen − mouthClose`` (they meet when mouthClose ≈ jawOpen).
Head angles in degrees, right-handed camera space: ``headYaw`` > 0 turns the nose towards the
picture's right, ``headPitch`` > 0 nods the nose down, ``headRoll`` > 0 tilts the top of the head
towards the picture's left.

The package: ``design.py`` (the static shapes, as data), ``paint.py`` (colour and path helpers),
``renderer.py`` (:class:`AvatarRenderer`: set-up, layers, the head), ``features.py`` (ears,
nose, eyes, brows) and ``mouth.py`` (lips, cavity, teeth, tongue).
"""

from visemic.render.avatar.renderer import AvatarRenderer

__all__ = ["AvatarRenderer"]
